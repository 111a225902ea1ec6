// ruleopt-sinsp extract CAPTURE FIELDS [--internal]: per event, the values libsinsp
// extracts for each field name (one netstring each in FIELDS), as its filters compare
// them. Output: a header line (the fields as libsinsp knows them), one JSON row per
// event, a trailer line (counts, event types outside Falco's all-types set, fields whose
// extraction threw).

#include "sinsp_common.h"
#include "sinsp_commands.h"

#include <filter.h>
#include <filter_check_list.h>
#include <filterchecks.h>

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace rsinsp
{

namespace
{

// The extracted field's real type: for evt.rawarg.X libsinsp keeps the argument's
// type in a per-check copy of the field info (m_field), not in the static table
// that get_field_info() returns, so we read the protected member.
struct field_peek : sinsp_filter_check
{
	static const filtercheck_field_info *field(sinsp_filter_check *c)
	{
		return c->*(&field_peek::m_field);
	}
};

// How a field's values are produced for one event.
enum class field_kind
{
	unknown,    // libsinsp does not know the name: always null
	single,     // plain extract(), as sinsp_filter_check::compare does
	ancestors,  // proc.aname / proc.apid without index: every ancestor
	sock_addr,  // fd.ip / fd.net: client and server address of the socket
	sock_port,  // fd.port / fd.proto: client and server port (see NOTES)
};

struct field
{
	std::string name;
	field_kind kind = field_kind::unknown;
	std::unique_ptr<sinsp_filter_check> chk;
	ppm_param_type type = PT_NONE;
	std::string error;
	bool is_pid = false;  // for ancestors: apid (numbers) vs aname (strings)
	// Extraction errors at run time (e.g. fd.cnet on an event whose fd is not a
	// socket throws "wrong event type"): the value is reported absent and counted.
	uint64_t runtime_errors = 0;
	int64_t first_error_evtnum = -1;
	std::string runtime_error;
};

void render_ipv4(std::string &out, uint32_t ip)
{
	const auto *b = reinterpret_cast<const uint8_t *>(&ip);
	char buf[32];
	snprintf(buf, sizeof(buf), "\"%u.%u.%u.%u\"", b[0], b[1], b[2], b[3]);
	out += buf;
}

void render_ipv6(std::string &out, const void *addr)
{
	char buf[INET6_ADDRSTRLEN + 2];
	if(inet_ntop(AF_INET6, addr, buf, sizeof(buf)) == nullptr)
	{
		out += "null";
		return;
	}
	json_string(out, buf, strlen(buf));
}

// Renders one extracted raw value as JSON according to its libsinsp type.
void render_value(std::string &out, sinsp_filter_check *chk, sinsp_evt *evt,
		  ppm_param_type t, const uint8_t *v, uint32_t len)
{
	char buf[64];
	switch(t)
	{
	case PT_INT8: out += std::to_string(*(const int8_t *)v); return;
	case PT_INT16: out += std::to_string(*(const int16_t *)v); return;
	case PT_INT32: out += std::to_string(*(const int32_t *)v); return;
	case PT_INT64:
	case PT_FD:
	case PT_PID:
	case PT_ERRNO: out += std::to_string(*(const int64_t *)v); return;
	case PT_UINT8:
	case PT_FLAGS8:
	case PT_SIGTYPE: out += std::to_string(*(const uint8_t *)v); return;
	case PT_UINT16:
	case PT_FLAGS16:
	case PT_PORT:
	case PT_SYSCALLID: out += std::to_string(*(const uint16_t *)v); return;
	case PT_UINT32:
	case PT_FLAGS32:
	case PT_MODE:
	case PT_UID:
	case PT_GID:
	case PT_BOOL: out += std::to_string(*(const uint32_t *)v); return;
	case PT_UINT64:
	case PT_RELTIME:
	case PT_ABSTIME: out += std::to_string(*(const uint64_t *)v); return;
	case PT_DOUBLE:
		snprintf(buf, sizeof(buf), "%.17g", *(const double *)v);
		out += buf;
		return;
	case PT_IPV4ADDR: render_ipv4(out, *(const uint32_t *)v); return;
	case PT_IPV6ADDR: render_ipv6(out, v); return;
	case PT_IPADDR:
		if(len == 4) render_ipv4(out, *(const uint32_t *)v);
		else if(len == 16) render_ipv6(out, v);
		else out += "null";
		return;
	case PT_CHARBUF:
	case PT_FSPATH:
	case PT_FSRELPATH:
		// Strings are compared with strcmp, i.e. up to the first NUL.
		json_string(out, (const char *)v, strlen((const char *)v));
		return;
	case PT_BYTEBUF:
		json_string(out, (const char *)v, len);
		return;
	default:
	{
		// Rare types (sockaddr, socktuple, fdlist...): libsinsp's own text.
		char *s = chk->tostring(evt);
		if(s == nullptr) out += "null";
		else json_string(out, s, strlen(s));
		return;
	}
	}
}

sinsp_fdinfo_t *event_fd(sinsp_evt *evt)
{
	// Same lookup as sinsp_filter_check_fd::extract_fd.
	if(!(evt->get_info_flags() & (EF_CREATES_FD | EF_USES_FD | EF_DESTROYS_FD))) return nullptr;
	sinsp_threadinfo *t = evt->get_thread_info();
	if(t == nullptr) return nullptr;
	sinsp_fdinfo_t *fd = evt->get_fd_info();
	if(fd == nullptr && t->m_lastevent_fd != -1) fd = t->get_fd(t->m_lastevent_fd);
	return fd;
}

void render_field(std::string &out, field &f, sinsp_evt *evt)
{
	switch(f.kind)
	{
	case field_kind::unknown:
		out += "null";
		return;
	case field_kind::single:
	{
		uint32_t len = 0;
		// sanitize_strings=false: the filter compares the unsanitized value.
		uint8_t *v = f.chk->extract(evt, &len, false);
		if(v == nullptr) out += "null";
		else render_value(out, f.chk.get(), evt, f.type, v, len);
		return;
	}
	case field_kind::ancestors:
	{
		// Mirrors compare_full_aname/apid: start from the main thread, visit its
		// parents (not itself) until the chain ends or loops.
		sinsp_threadinfo *t = evt->get_thread_info();
		sinsp_threadinfo *mt = t == nullptr ? nullptr : (t->is_main_thread() ? t : t->get_main_thread());
		if(mt == nullptr)
		{
			out += "null";
			return;
		}
		out.push_back('[');
		bool first = true;
		bool pid = f.is_pid;
		sinsp_threadinfo::visitor_func_t visit = [&](sinsp_threadinfo *pt) {
			if(!first) out.push_back(',');
			first = false;
			if(pid) out += std::to_string(pt->m_pid);
			else json_string(out, pt->m_comm);
			return true;
		};
		mt->traverse_parent_state(visit);
		out.push_back(']');
		return;
	}
	case field_kind::sock_addr:
	case field_kind::sock_port:
	{
		// Mirrors compare_ip/compare_net/compare_port: connected sockets offer
		// client and server, server sockets their one address.
		sinsp_fdinfo_t *fd = event_fd(evt);
		if(fd == nullptr)
		{
			out += "null";
			return;
		}
		const auto &si = fd->m_sockinfo;
		bool port = f.kind == field_kind::sock_port;
		switch(fd->m_type)
		{
		case SCAP_FD_IPV4_SOCK:
			out.push_back('[');
			if(port) out += std::to_string(si.m_ipv4info.m_fields.m_sport) + "," + std::to_string(si.m_ipv4info.m_fields.m_dport);
			else { render_ipv4(out, si.m_ipv4info.m_fields.m_sip); out.push_back(','); render_ipv4(out, si.m_ipv4info.m_fields.m_dip); }
			out.push_back(']');
			return;
		case SCAP_FD_IPV6_SOCK:
			out.push_back('[');
			if(port) out += std::to_string(si.m_ipv6info.m_fields.m_sport) + "," + std::to_string(si.m_ipv6info.m_fields.m_dport);
			else { render_ipv6(out, &si.m_ipv6info.m_fields.m_sip); out.push_back(','); render_ipv6(out, &si.m_ipv6info.m_fields.m_dip); }
			out.push_back(']');
			return;
		case SCAP_FD_IPV4_SERVSOCK:
			out.push_back('[');
			if(port) out += std::to_string(si.m_ipv4serverinfo.m_port);
			else render_ipv4(out, si.m_ipv4serverinfo.m_ip);
			out.push_back(']');
			return;
		case SCAP_FD_IPV6_SERVSOCK:
			out.push_back('[');
			if(port) out += std::to_string(si.m_ipv6serverinfo.m_port);
			else render_ipv6(out, &si.m_ipv6serverinfo.m_ip);
			out.push_back(']');
			return;
		default:
			out += "null";
			return;
		}
	}
	}
}

void setup_field(field &f, sinsp *insp)
{
	// The compiler's path: find the filtercheck class by name (exact check),
	// then let it parse the full name including any [index] or .argname.
	sinsp_filter_check *c = nullptr;
	if(f.name.find('\0') != std::string::npos)
	{
		// libsinsp parses field names as C strings; a NUL would silently cut it.
		f.error = "field name contains a NUL byte";
		return;
	}
	try
	{
		c = g_filterlist.new_filter_check_from_fldname(f.name, insp, true);
	}
	catch(const std::exception &e)
	{
		f.error = e.what();
		return;
	}
	if(c == nullptr)
	{
		f.error = "filter_check called with nonexistent field " + f.name;
		return;
	}
	f.chk.reset(c);
	try
	{
		int32_t parsed = c->parse_field_name(f.name.c_str(), true, true);
		if(parsed != (int32_t)f.name.size())
		{
			// The old compiler reads a whole token as the field name, so a partial
			// parse means trailing garbage that the compiler would reject later.
			f.error = "field name parsed only up to character " + std::to_string(parsed);
			f.chk.reset();
			return;
		}
	}
	catch(const std::exception &e)
	{
		f.error = e.what();
		f.chk.reset();
		return;
	}
	const filtercheck_field_info *info = field_peek::field(c);
	f.type = info->m_type;
	std::string canon = info->m_name;
	if(f.name == "proc.aname" || f.name == "proc.apid")
	{
		f.kind = field_kind::ancestors;
		f.is_pid = f.name == "proc.apid";
	}
	else if(f.name == "fd.ip" || f.name == "fd.net")
	{
		f.kind = field_kind::sock_addr;
		f.type = PT_IPADDR;
	}
	else if(f.name == "fd.port" || f.name == "fd.proto")
	{
		f.kind = field_kind::sock_port;
		f.type = PT_PORT;
	}
	else
	{
		f.kind = field_kind::single;
	}
}

int extract(const std::string &capture, const std::string &fields_path, bool internal)
{
	// One record per field name, taken verbatim (the wrapper strips them).
	std::vector<std::string> names = read_records(fields_path, "fields list");
	precheck_capture(capture);

	sinsp insp;
	insp.set_hostname_and_port_resolution_mode(false);
	std::vector<field> fields(names.size());
	for(size_t i = 0; i < names.size(); i++)
	{
		fields[i].name = names[i];
		setup_field(fields[i], &insp);
	}
	// The row's event type is what the evt.type field yields (e.g. "<unknown>"
	// for unsupported syscalls), so that it compares like a rule would.
	field evtype;
	evtype.name = "evt.type";
	setup_field(evtype, &insp);
	open_capture(insp, capture);

	std::string out;
	out.reserve(1 << 16);
	out += "{\"capture\": ";
	json_string(out, capture);
	out += ", \"fields\": [";
	for(size_t i = 0; i < fields.size(); i++)
	{
		field &f = fields[i];
		if(i) out += ", ";
		out += "{\"name\": ";
		json_string(out, f.name);
		out += ", \"known\": ";
		out += f.kind == field_kind::unknown ? "false" : "true";
		out += ", \"type\": ";
		if(f.kind == field_kind::unknown) out += "null";
		else json_string(out, type_name(f.type));
		out += ", \"canonical\": ";
		if(f.chk) json_string(out, std::string(field_peek::field(f.chk.get())->m_name));
		else out += "null";
		out += ", \"multi\": ";
		bool multi = f.kind == field_kind::ancestors || f.kind == field_kind::sock_addr ||
			     f.kind == field_kind::sock_port;
		out += multi ? "true" : "false";
		out += ", \"error\": ";
		if(f.error.empty()) out += "null";
		else json_string(out, f.error);
		out += "}";
	}
	out += "]}\n";

	// The event types a filter that never names evt.type runs on (Falco's index
	// puts such a rule under every one of them). Events outside this set (generic
	// syscall events, for one) are never seen by such rules; report their type names
	// so the replica's index can skip them too.
	std::set<uint16_t> all_types;
	{
		sinsp_filter_compiler compiler(&insp, "evt.num >= 0");
		std::unique_ptr<sinsp_filter> probe(compiler.compile());
		all_types = probe->evttypes();
	}
	std::set<std::string> outside_all_types;

	uint64_t n = 0, nread = 0, last = 0;
	while(true)
	{
		sinsp_evt *evt = next_event(insp, capture, last);
		if(evt == nullptr) break;
		nread++;
		last = evt->get_num();
		if(!internal && is_internal(evt)) continue;
		n++;
		g_progress.phase = PHASE_EXTRACT;
		g_progress.item = -1;  // evt.type
		if(!all_types.count(evt->get_type()))
		{
			std::string tname;
			render_field(tname, evtype, evt);
			outside_all_types.insert(tname);
		}
		out += "[" + std::to_string(last) + ",";
		render_field(out, evtype, evt);
		out += evt->get_direction() == SCAP_ED_IN ? ",\">\"" : ",\"<\"";
		for(size_t fi = 0; fi < fields.size(); fi++)
		{
			field &f = fields[fi];
			out.push_back(',');
			g_progress.phase = PHASE_EXTRACT;
			g_progress.item = (int64_t)fi;
			try
			{
				render_field(out, f, evt);
			}
			catch(const std::exception &e)
			{
				// render_field appends nothing before it throws; the value is absent.
				out += "null";
				if(f.runtime_errors++ == 0)
				{
					f.first_error_evtnum = (int64_t)last;
					f.runtime_error = e.what();
				}
			}
		}
		out += "]\n";
		if(out.size() > (1 << 20))
		{
			fwrite(out.data(), 1, out.size(), stdout);
			out.clear();
		}
	}
	if(nread == 0)
	{
		fail("capture contains no events (not a scap file, or truncated?)", capture);
	}
	out += "{\"events\": " + std::to_string(n) + ", \"events_read\": " + std::to_string(nread);
	out += ", \"outside_all_types\": [";
	bool first = true;
	for(const std::string &t : outside_all_types)
	{
		if(!first) out += ", ";
		first = false;
		out += t;  // already a JSON string, as render_field wrote it
	}
	out += "], \"field_errors\": {";
	first = true;
	for(auto &f : fields)
	{
		if(!f.runtime_errors) continue;
		if(!first) out += ", ";
		first = false;
		json_string(out, f.name);
		out += ": {\"count\": " + std::to_string(f.runtime_errors) +
		       ", \"first_evtnum\": " + std::to_string(f.first_error_evtnum) + ", \"message\": ";
		json_string(out, f.runtime_error);
		out += "}";
	}
	out += "}}\n";
	fwrite(out.data(), 1, out.size(), stdout);
	fflush(stdout);
	insp.close();
	return 0;
}

}  // namespace

int cmd_extract(const args &a)
{
	if(a.size() < 2) return usage();
	bool internal = false;
	for(size_t i = 2; i < a.size(); i++)
	{
		if(a[i] == "--internal") internal = true;
		else return usage();
	}
	return extract(a[0], a[1], internal);
}

}  // namespace rsinsp

// ruleopt-sinsp: field extraction and an instrumented rule harness built on the
// real libsinsp (Debian's falcosecurity-libs, 2022-03) so that ruleopt can check its
// own engine against the code Falco actually runs.
//
//   ruleopt-sinsp version      (the exchange format it speaks)
//   ruleopt-sinsp extract CAPTURE FIELDS [--internal]
//   ruleopt-sinsp run CAPTURE RULES [--repeat N] [--json OUT] [--internal]
//
// FIELDS and RULES are files, or "-" for standard input, holding netstrings
// ("<decimal length>:<bytes>,", see read_records): one per field name; three per
// rule (id, name, condition). Length-prefixed records carry any bytes unchanged
// (tabs, line breaks, NUL, bytes that are not UTF-8), so every rule name and
// condition Falco accepts reaches libsinsp exactly as written. The result is JSON
// on stdout (or in OUT); strings in it are escaped so that Python's json module
// plus str.encode("utf-8", "surrogateescape") give back the original bytes.
//
// Errors in user input go to stderr as one human line followed by one JSON line
// ({"error": ..., "file": ..., "line": ..., "event": ...}) and exit code 2; the
// Python wrapper parses the JSON line. Exit code 1 means an internal failure.
// If libsinsp itself crashes (a corrupted capture can make it segfault), a signal
// handler writes one JSON line {"crash": SIGNAL, "phase": ..., "event": ...,
// "offset": ...} to stderr, naming how far it got, then dies of the same signal.
//
// The tool dies with its parent (PR_SET_PDEATHSIG): a killed ruleopt never leaves
// a harness running.

#include <sinsp.h>
#include <filter.h>
#include <filterchecks.h>
#include <filter_check_list.h>
#include <scap_open_exception.h>

#include "sinsp_engine.h"

#include <arpa/inet.h>
#include <csignal>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <x86intrin.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int EXIT_INPUT = 2;
constexpr int EXIT_INTERNAL = 1;
// Bumped whenever the exchange with ruleopt/events/sinsp.py changes; the wrapper
// asks ("ruleopt-sinsp version") so a stale binary gives a clear error instead of
// misreading its input.
constexpr const char *EXCHANGE_VERSION = "ruleopt-sinsp exchange 2";

// ---------------------------------------------------------------------------
// Progress, for crash reports. libsinsp 2022 trusts the event headers of a capture:
// a corrupted one can make it read through a wild pointer (SIGSEGV inside
// sinsp::next). Exceptions cannot catch that, so the main loops record where they
// are in these globals (plain stores, no cost worth measuring) and a signal handler
// reports them with async-signal-safe write() before re-raising the signal, so the
// parent still sees "killed by signal N" and also learns the last event reached.
// ---------------------------------------------------------------------------

enum crash_phase : int
{
	PHASE_START = 0,    // before the capture is opened
	PHASE_OPEN = 1,     // sinsp::open
	PHASE_COMPILE = 2,  // compiling rule g_progress.rule
	PHASE_READ = 3,     // sinsp::next after event g_progress.event
	PHASE_EXTRACT = 4,  // extracting field g_progress.item on event g_progress.event
	PHASE_FILTER = 5,   // running rule g_progress.rule on event g_progress.event
};

struct progress
{
	volatile int phase;
	volatile int64_t event;   // last event returned by sinsp::next (-1: none yet)
	volatile int64_t offset;  // byte offset (uncompressed) of the end of that event
	volatile int64_t rule;    // rule id, for PHASE_COMPILE / PHASE_FILTER
	volatile int64_t item;    // field index, for PHASE_EXTRACT
};

progress g_progress = {PHASE_START, -1, 0, -1, -1};

const char *phase_name(int phase)
{
	switch(phase)
	{
	case PHASE_OPEN: return "open";
	case PHASE_COMPILE: return "compile";
	case PHASE_READ: return "read";
	case PHASE_EXTRACT: return "extract";
	case PHASE_FILTER: return "filter";
	default: return "start";
	}
}

// Async-signal-safe appends (no malloc, no stdio).
size_t put_str(char *buf, size_t pos, size_t cap, const char *s)
{
	while(*s && pos + 1 < cap) buf[pos++] = *s++;
	return pos;
}

size_t put_int(char *buf, size_t pos, size_t cap, int64_t v)
{
	if(v < 0) return put_str(buf, pos, cap, "null");
	char digits[24];
	size_t n = 0;
	uint64_t u = (uint64_t)v;
	do
	{
		digits[n++] = (char)('0' + u % 10);
		u /= 10;
	} while(u && n < sizeof(digits));
	while(n && pos + 1 < cap) buf[pos++] = digits[--n];
	return pos;
}

extern "C" void on_fatal_signal(int sig)
{
	char buf[256];
	size_t p = 0;
	const size_t cap = sizeof(buf);
	p = put_str(buf, p, cap, "{\"crash\": ");
	p = put_int(buf, p, cap, sig);
	p = put_str(buf, p, cap, ", \"phase\": \"");
	p = put_str(buf, p, cap, phase_name(g_progress.phase));
	p = put_str(buf, p, cap, "\", \"event\": ");
	p = put_int(buf, p, cap, g_progress.event);
	p = put_str(buf, p, cap, ", \"offset\": ");
	p = put_int(buf, p, cap, g_progress.offset);
	p = put_str(buf, p, cap, ", \"rule\": ");
	p = put_int(buf, p, cap, g_progress.rule);
	p = put_str(buf, p, cap, ", \"item\": ");
	p = put_int(buf, p, cap, g_progress.item);
	p = put_str(buf, p, cap, "}\n");
	// A newline first: the crash may have cut a human line of ours in half.
	ssize_t ignored = write(STDERR_FILENO, "\n", 1);
	ignored = write(STDERR_FILENO, buf, p);
	(void)ignored;
	// SA_RESETHAND restored the default action; the re-raised signal is delivered
	// when this handler returns (or the faulting instruction faults again), so the
	// process still dies of `sig` and the parent sees it.
	raise(sig);
}

void install_crash_handlers()
{
	// An alternate stack, so that a stack overflow (a deeply nested condition in
	// libsinsp's recursive compiler) is reported too.
	static char altstack[1 << 16];
	stack_t ss = {};
	ss.ss_sp = altstack;
	ss.ss_size = sizeof(altstack);
	sigaltstack(&ss, nullptr);
	struct sigaction sa = {};
	sa.sa_handler = on_fatal_signal;
	sa.sa_flags = SA_RESETHAND | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	for(int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT})
	{
		sigaction(sig, &sa, nullptr);
	}
}

// The tool must not outlive the ruleopt process that started it: the kernel
// sends SIGKILL when the parent dies. The parent may already be gone before
// prctl runs; RULEOPT_PARENT_PID (set by the Python wrapper) tells us who it was.
void die_with_parent()
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	const char *want = getenv("RULEOPT_PARENT_PID");
	if(want != nullptr && *want != '\0')
	{
		char *end = nullptr;
		long pid = strtol(want, &end, 10);
		if(*end == '\0' && pid > 0 && getppid() != (pid_t)pid)
		{
			fprintf(stderr, "ruleopt-sinsp: the parent process %ld is gone; exiting\n", pid);
			_exit(EXIT_INTERNAL);
		}
	}
}

// ---------------------------------------------------------------------------
// JSON writing. Hand-rolled because it is tiny and keeps the output exactly as we
// want it: non-UTF-8 bytes become lone surrogates \udcXX, which Python's json
// module accepts and which round-trip to the original bytes with
// str.encode("utf-8", "surrogateescape").
// ---------------------------------------------------------------------------

void json_string(std::string &out, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	out.push_back('"');
	const auto *p = reinterpret_cast<const unsigned char *>(s);
	size_t i = 0;
	while(i < n)
	{
		unsigned char c = p[i];
		if(c < 0x80)
		{
			switch(c)
			{
			case '"': out += "\\\""; break;
			case '\\': out += "\\\\"; break;
			case '\n': out += "\\n"; break;
			case '\r': out += "\\r"; break;
			case '\t': out += "\\t"; break;
			default:
				if(c < 0x20 || c == 0x7f)
				{
					out += "\\u00";
					out.push_back(hex[c >> 4]);
					out.push_back(hex[c & 15]);
				}
				else
				{
					out.push_back(static_cast<char>(c));
				}
			}
			i++;
			continue;
		}
		// Validate one UTF-8 sequence (no overlongs, no surrogates, <= U+10FFFF).
		size_t len = 0;
		uint32_t cp = 0;
		if(c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; }
		else if(c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0f; }
		else if(c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; }
		bool ok = len != 0 && i + len <= n;
		for(size_t k = 1; ok && k < len; k++)
		{
			if((p[i + k] & 0xc0) != 0x80) ok = false;
			else cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if(ok && ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
			  (len == 4 && (cp < 0x10000 || cp > 0x10ffff))))
		{
			ok = false;
		}
		if(ok)
		{
			out.append(reinterpret_cast<const char *>(p + i), len);
			i += len;
		}
		else
		{
			out += "\\udc";
			out.push_back(hex[c >> 4]);
			out.push_back(hex[c & 15]);
			i++;
		}
	}
	out.push_back('"');
}

void json_string(std::string &out, const std::string &s)
{
	json_string(out, s.data(), s.size());
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

struct input_error
{
	std::string message;
	std::string file;
	int64_t line = -1;
	int64_t event = -1;
};

[[noreturn]] void fail(const std::string &msg, const std::string &file, int64_t line = -1, int64_t event = -1)
{
	throw input_error{msg, file, line, event};
}

int report(const input_error &e)
{
	std::string human = "ruleopt-sinsp: ";
	if(!e.file.empty()) human += e.file + ": ";
	if(e.line >= 0) human += "line " + std::to_string(e.line) + ": ";
	human += e.message;
	if(e.event >= 0) human += " (after event " + std::to_string(e.event) + ")";
	std::string js = "{\"error\": ";
	json_string(js, e.message);
	js += ", \"file\": ";
	if(e.file.empty()) js += "null"; else json_string(js, e.file);
	js += ", \"line\": " + (e.line >= 0 ? std::to_string(e.line) : std::string("null"));
	js += ", \"event\": " + (e.event >= 0 ? std::to_string(e.event) : std::string("null"));
	js += "}";
	fprintf(stderr, "%s\n%s\n", human.c_str(), js.c_str());
	return EXIT_INPUT;
}

// libsinsp reports unreadable captures in several ways (exceptions at open, a
// failure code from next(), sometimes a zero-event "success"); we check the
// obvious cases ourselves first so the message names the problem precisely.
void precheck_capture(const std::string &path)
{
	struct stat st;
	if(stat(path.c_str(), &st) != 0)
	{
		fail(std::string("cannot read capture: ") + strerror(errno), path);
	}
	if(!S_ISREG(st.st_mode))
	{
		fail("capture is not a regular file", path);
	}
	if(access(path.c_str(), R_OK) != 0)
	{
		fail(std::string("cannot read capture: ") + strerror(errno), path);
	}
	if(st.st_size == 0)
	{
		fail("capture file is empty", path);
	}
}

void open_capture(sinsp &insp, const std::string &path)
{
	g_progress.phase = PHASE_OPEN;
	g_progress.event = -1;
	g_progress.offset = 0;
	try
	{
		insp.open(path);
	}
	catch(const std::exception &e)
	{
		fail(std::string("cannot open capture (not a readable scap file?): ") + e.what(), path);
	}
}

// Reads the next event; returns nullptr at end of file. Failures mid-file name
// the last good event number. `cycles`, if given, receives the rdtsc cycles spent
// in sinsp::next alone (the harness's per-next() figure).
sinsp_evt *next_event(sinsp &insp, const std::string &path, uint64_t last_num, uint64_t *cycles = nullptr)
{
	while(true)
	{
		sinsp_evt *evt = nullptr;
		int32_t rc;
		g_progress.phase = PHASE_READ;
		try
		{
			uint64_t c0 = __rdtsc();
			rc = insp.next(&evt);
			uint64_t c1 = __rdtsc();
			if(cycles != nullptr) *cycles = c1 - c0;
		}
		catch(const std::exception &e)
		{
			fail(std::string("error reading capture: ") + e.what(), path, -1, (int64_t)last_num);
		}
		if(rc == SCAP_SUCCESS)
		{
			// Where a cut would keep every event read so far intact.
			g_progress.event = (int64_t)evt->get_num();
			g_progress.offset = (int64_t)insp.get_bytes_read();
			return evt;
		}
		if(rc == SCAP_TIMEOUT) continue;
		if(rc == SCAP_EOF) return nullptr;
		std::string err = insp.getlasterr();
		if(err.empty()) err = "scap error code " + std::to_string(rc);
		fail("error reading capture: " + err, path, -1, (int64_t)last_num);
	}
}

// Reads netstrings ("<length>:<bytes>,", length in decimal) from a file or, for
// "-", standard input (the Python wrapper streams its input there: no temporary
// files). Each record is returned byte for byte, NUL and line breaks included.
std::vector<std::string> read_records(const std::string &path, const char *what)
{
	std::string data;
	if(path == "-")
	{
		// Plain read(2): iostreams synced with stdio read a byte at a time.
		char buf[1 << 16];
		while(true)
		{
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
			if(n == 0) break;
			if(n < 0 && errno == EINTR) continue;
			if(n < 0)
			{
				fail(std::string("cannot read ") + what + " from standard input: " + strerror(errno),
				     "<stdin>");
			}
			data.append(buf, (size_t)n);
		}
	}
	else
	{
		std::ifstream in(path, std::ios::binary);
		if(!in)
		{
			fail(std::string("cannot read ") + what + ": " + strerror(errno), path);
		}
		data.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
	}
	const std::string where = path == "-" ? "<stdin>" : path;
	std::vector<std::string> records;
	size_t pos = 0;
	while(pos < data.size())
	{
		size_t start = pos;
		uint64_t len = 0;
		size_t ndigits = 0;
		while(pos < data.size() && data[pos] >= '0' && data[pos] <= '9' && ndigits < 12)
		{
			len = len * 10 + (uint64_t)(data[pos] - '0');
			pos++;
			ndigits++;
		}
		std::string at = " at byte " + std::to_string(start) + " (record " +
				 std::to_string(records.size() + 1) + ")";
		if(ndigits == 0 || pos >= data.size() || data[pos] != ':')
		{
			fail(std::string("malformed ") + what + ": expected '<length>:' netstring" + at, where);
		}
		pos++;
		if(len > data.size() - pos || data.size() - pos - len < 1 || data[pos + len] != ',')
		{
			fail(std::string("malformed ") + what + ": record of " + std::to_string(len) +
				     " bytes is truncated or not followed by ','" + at,
			     where);
		}
		records.emplace_back(data, pos, len);
		pos += len + 1;
	}
	return records;
}

void write_output(const std::string &doc, const std::string &out_path)
{
	if(out_path.empty())
	{
		fwrite(doc.data(), 1, doc.size(), stdout);
		fflush(stdout);
		return;
	}
	// Atomic: write a sibling temp file, then rename over the target.
	std::string tmp = out_path + ".tmp." + std::to_string(getpid());
	FILE *f = fopen(tmp.c_str(), "wb");
	if(f == nullptr)
	{
		fail(std::string("cannot write output: ") + strerror(errno), out_path);
	}
	bool ok = fwrite(doc.data(), 1, doc.size(), f) == doc.size();
	ok = (fclose(f) == 0) && ok;
	if(!ok || rename(tmp.c_str(), out_path.c_str()) != 0)
	{
		unlink(tmp.c_str());
		fail(std::string("cannot write output: ") + strerror(errno), out_path);
	}
}

std::string type_name(ppm_param_type t)
{
	// libsinsp names types without the enum's PT_ prefix; we keep the prefix so
	// the names match the C enum (PT_CHARBUF, PT_UINT64, ...).
	const char *s = param_type_to_string(t);
	return std::string("PT_") + (s ? s : "UNKNOWN");
}

// Internal events (procinfo, container, ...) are state snapshots written at the
// start of a capture, not syscalls: sysdig does not show them and a live Falco
// never sees the procinfo dump, so by default both subcommands skip them (their
// evt.nums are still consumed, as in sysdig).
inline bool is_internal(sinsp_evt *evt)
{
	return (evt->get_category() & EC_INTERNAL) != 0;
}

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

// ---------------------------------------------------------------------------
// extract
// ---------------------------------------------------------------------------

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

int cmd_extract(const std::string &capture, const std::string &fields_path, bool internal)
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

// ---------------------------------------------------------------------------
// run: the instrumented harness
// ---------------------------------------------------------------------------

constexpr size_t MAX_RULES = 4096;
constexpr size_t NBUCKETS = 64;
constexpr size_t MAX_MATCH_RECORDS = 1 << 20;

struct cycle_stats
{
	uint64_t count;
	uint64_t sum;
	uint64_t hist[NBUCKETS];
};

// Counters live in static arrays indexed by rule slot so the hot loop never
// allocates; matched evt.nums go to one preallocated pool.
cycle_stats g_matched[MAX_RULES];
cycle_stats g_unmatched[MAX_RULES];
uint64_t g_evals[MAX_RULES];
// A filter that throws while running (libsinsp 2022 throws from some fd.* checks
// on sockets of the wrong kind) counts as "not matched" for that event, and is
// reported: the first evt.num and message per rule.
uint64_t g_runtime_errors[MAX_RULES];
int64_t g_first_error_evtnum[MAX_RULES];
uint64_t g_matches_pass1[MAX_RULES];
uint64_t g_matches_all[MAX_RULES];
cycle_stats g_next;
uint64_t g_type_counts[PPM_EVENT_MAX];
struct match_rec
{
	uint32_t slot;
	uint64_t evtnum;
};
match_rec g_match_pool[MAX_MATCH_RECORDS];
size_t g_match_used = 0;
bool g_match_overflow = false;

inline unsigned bucket(uint64_t c)
{
	// Bucket b holds values in [2^(b-1), 2^b); bucket 0 holds 0.
	unsigned b = c == 0 ? 0 : (unsigned)(64 - __builtin_clzll(c));
	return b > NBUCKETS - 1 ? NBUCKETS - 1 : b;
}

inline void record(cycle_stats &s, uint64_t c)
{
	s.count++;
	s.sum += c;
	s.hist[bucket(c)]++;
}

void json_stats(std::string &out, const cycle_stats &s)
{
	out += "{\"count\": " + std::to_string(s.count) + ", \"sum\": " + std::to_string(s.sum) + ", \"hist\": [";
	for(size_t i = 0; i < NBUCKETS; i++)
	{
		if(i) out.push_back(',');
		out += std::to_string(s.hist[i]);
	}
	out += "]}";
}

struct rule
{
	int64_t id;
	std::string name;
	std::string condition;
	std::unique_ptr<sinsp_filter> filter;
	std::string error;
	std::set<uint16_t> evttypes;
	bool all_types = false;
	std::string runtime_error;
};

double estimate_tsc_hz()
{
	// Calibrate against the monotonic clock over ~20 ms; good to well under 1%.
	auto t0 = std::chrono::steady_clock::now();
	uint64_t c0 = __rdtsc();
	std::this_thread::sleep_for(std::chrono::milliseconds(20));
	uint64_t c1 = __rdtsc();
	auto t1 = std::chrono::steady_clock::now();
	double secs = std::chrono::duration<double>(t1 - t0).count();
	return secs > 0 ? (double)(c1 - c0) / secs : 0.0;
}

uint64_t rdtsc_overhead()
{
	// Smallest back-to-back difference: the floor under every measured check.
	uint64_t best = UINT64_MAX;
	for(int i = 0; i < 1000; i++)
	{
		uint64_t a = __rdtsc();
		uint64_t b = __rdtsc();
		if(b - a < best) best = b - a;
	}
	return best;
}

int cmd_run(const std::string &capture, const std::string &rules_path, int repeat, const std::string &json_out,
	    bool internal)
{
	// Three records per rule: id (decimal), name, condition, each verbatim.
	auto recs = read_records(rules_path, "rules list");
	const std::string where = rules_path == "-" ? "<stdin>" : rules_path;
	if(recs.size() % 3 != 0)
	{
		fail("rules list: " + std::to_string(recs.size()) +
			     " records is not a multiple of 3 (id, name, condition per rule)",
		     where);
	}
	std::vector<rule> rules;
	std::set<int64_t> seen_ids;
	for(size_t i = 0; i < recs.size(); i += 3)
	{
		const std::string at = " (rule " + std::to_string(i / 3 + 1) + " of the rules list)";
		const std::string &ids = recs[i];
		char *end = nullptr;
		errno = 0;
		long long id = ids.empty() || ids[0] < '0' || ids[0] > '9' ? -1 : strtoll(ids.c_str(), &end, 10);
		if(id < 0 || end != ids.c_str() + ids.size() || errno != 0)
		{
			fail("rule id '" + ids + "' is not a non-negative integer" + at, where);
		}
		if(!seen_ids.insert(id).second)
		{
			fail("duplicate rule id " + ids + at, where);
		}
		if(rules.size() >= MAX_RULES)
		{
			fail("too many rules: at most " + std::to_string(MAX_RULES) + " are supported", where);
		}
		rule r;
		r.id = id;
		r.name = recs[i + 1];
		r.condition = recs[i + 2];
		rules.push_back(std::move(r));
	}
	if(repeat < 1)
	{
		fail("--repeat must be at least 1", "");
	}
	precheck_capture(capture);

	sinsp insp;
	insp.set_hostname_and_port_resolution_mode(false);

	// Event-type index, built the way Falco 0.31 does it: the compiled filter
	// reports its event types (gen_event_filter::evttypes()); a filter that
	// cannot be narrowed reports every type and runs on every event.
	std::vector<std::vector<uint32_t>> by_type(PPM_EVENT_MAX);
	for(size_t s = 0; s < rules.size(); s++)
	{
		rule &r = rules[s];
		g_progress.phase = PHASE_COMPILE;
		g_progress.rule = r.id;
		try
		{
			sinsp_filter_compiler compiler(&insp, r.condition);
			r.filter.reset(compiler.compile());
			r.evttypes = r.filter->evttypes();
		}
		catch(const std::exception &e)
		{
			r.error = e.what();
			r.filter.reset();
			continue;
		}
		r.all_types = r.evttypes.empty() || r.evttypes.size() >= PPM_EVENT_MAX;
		for(uint16_t et = 0; et < PPM_EVENT_MAX; et++)
		{
			if(r.all_types || r.evttypes.count(et)) by_type[et].push_back((uint32_t)s);
		}
	}

	double tsc_hz = estimate_tsc_hz();
	uint64_t overhead = rdtsc_overhead();

	uint64_t events_pass1 = 0;
	uint64_t events_total = 0;
	for(int pass = 0; pass < repeat; pass++)
	{
		open_capture(insp, capture);
		uint64_t last = 0, n = 0, nread = 0;
		while(true)
		{
			uint64_t next_cycles = 0;
			sinsp_evt *evt = next_event(insp, capture, last, &next_cycles);
			if(evt == nullptr) break;
			record(g_next, next_cycles);
			nread++;
			last = evt->get_num();
			if(!internal && is_internal(evt)) continue;
			n++;
			uint16_t et = evt->get_type();
			if(pass == 0 && et < PPM_EVENT_MAX) g_type_counts[et]++;
			if(et >= PPM_EVENT_MAX) continue;
			const std::vector<uint32_t> &list = by_type[et];
			for(uint32_t s : list)
			{
				bool m;
				g_progress.phase = PHASE_FILTER;
				g_progress.rule = rules[s].id;
				uint64_t a = __rdtsc();
				try
				{
					m = rules[s].filter->run(evt);
				}
				catch(const std::exception &e)
				{
					m = false;
					if(g_runtime_errors[s]++ == 0)
					{
						g_first_error_evtnum[s] = (int64_t)last;
						rules[s].runtime_error = e.what();
					}
				}
				uint64_t b = __rdtsc();
				g_evals[s]++;
				if(m)
				{
					record(g_matched[s], b - a);
					g_matches_all[s]++;
					if(pass == 0)
					{
						g_matches_pass1[s]++;
						if(g_match_used < MAX_MATCH_RECORDS) g_match_pool[g_match_used++] = {s, last};
						else g_match_overflow = true;
					}
				}
				else
				{
					record(g_unmatched[s], b - a);
				}
			}
		}
		insp.close();
		if(nread == 0)
		{
			fail("capture contains no events (not a scap file, or truncated?)", capture);
		}
		if(pass == 0) events_pass1 = n;
		events_total += n;
	}

	std::vector<std::vector<uint64_t>> matched(rules.size());
	for(size_t i = 0; i < g_match_used; i++) matched[g_match_pool[i].slot].push_back(g_match_pool[i].evtnum);

	std::string out;
	out += "{\"capture\": ";
	json_string(out, capture);
	out += ", \"repeat\": " + std::to_string(repeat);
	out += ", \"events\": " + std::to_string(events_pass1);
	out += ", \"events_total\": " + std::to_string(events_total);
	char buf[64];
	snprintf(buf, sizeof(buf), "%.0f", tsc_hz);
	out += ", \"tsc_hz\": " + std::string(buf);
	out += ", \"rdtsc_overhead\": " + std::to_string(overhead);
	out += ", \"matched_evtnums_truncated\": " + std::string(g_match_overflow ? "true" : "false");
	out += ", \"next_cycles\": ";
	json_stats(out, g_next);
	out += ", \"event_types\": [";
	bool first = true;
	for(uint16_t et = 0; et < PPM_EVENT_MAX; et++)
	{
		if(!g_type_counts[et]) continue;
		if(!first) out += ", ";
		first = false;
		out += "{\"type\": " + std::to_string(et) + ", \"name\": ";
		json_string(out, std::string(g_infotables.m_event_info[et].name));
		out += std::string(", \"dir\": \"") + (PPME_IS_ENTER(et) ? ">" : "<") + "\"";
		out += ", \"count\": " + std::to_string(g_type_counts[et]) + "}";
	}
	out += "], \"rules\": [";
	for(size_t s = 0; s < rules.size(); s++)
	{
		rule &r = rules[s];
		if(s) out += ",";
		out += "\n {\"id\": " + std::to_string(r.id) + ", \"name\": ";
		json_string(out, r.name);
		out += ", \"status\": ";
		out += r.filter ? "\"ok\"" : "\"error\"";
		out += ", \"error\": ";
		if(r.error.empty()) out += "null"; else json_string(out, r.error);
		out += ", \"all_evttypes\": " + std::string(r.all_types ? "true" : "false");
		out += ", \"evttypes\": [";
		std::set<std::string> names;
		if(!r.all_types)
			for(uint16_t et : r.evttypes)
				if(et < PPM_EVENT_MAX) names.insert(g_infotables.m_event_info[et].name);
		bool f2 = true;
		for(auto &nm : names)
		{
			if(!f2) out += ",";
			f2 = false;
			json_string(out, nm);
		}
		out += "], \"evaluations\": " + std::to_string(g_evals[s]);
		out += ", \"runtime_errors\": " + std::to_string(g_runtime_errors[s]);
		out += ", \"first_error_evtnum\": " + std::to_string(g_runtime_errors[s] ? g_first_error_evtnum[s] : (int64_t)-1);
		out += ", \"runtime_error\": ";
		if(rules[s].runtime_error.empty()) out += "null";
		else json_string(out, rules[s].runtime_error);
		out += ", \"matches\": " + std::to_string(g_matches_pass1[s]);
		out += ", \"matches_all_passes\": " + std::to_string(g_matches_all[s]);
		out += ", \"matched_evtnums\": [";
		for(size_t k = 0; k < matched[s].size(); k++)
		{
			if(k) out += ",";
			out += std::to_string(matched[s][k]);
		}
		out += "], \"cycles_matched\": ";
		json_stats(out, g_matched[s]);
		out += ", \"cycles_unmatched\": ";
		json_stats(out, g_unmatched[s]);
		out += "}";
	}
	out += "\n]}\n";
	write_output(out, json_out);
	return 0;
}

int usage()
{
	fprintf(stderr,
		"usage: ruleopt-sinsp version\n"
		"       ruleopt-sinsp extract CAPTURE FIELDS [--internal]\n"
		"       ruleopt-sinsp run CAPTURE RULES [--repeat N] [--json OUT] [--internal]\n"
		"       ruleopt-sinsp engine --help  (strategies on the real engine, sinsp_engine.cpp)\n"
		"FIELDS, RULES: a file or - (stdin) of netstrings <len>:<bytes>, (see the source)\n");
	return EXIT_INPUT;
}

}  // namespace

// plugin/sinsp_checks.cpp: per-check records for experiments/harness_table.py.
int ruleopt_cmd_checks(const std::vector<std::string> &args);

// Forwarders for sinsp_engine.cpp (declared in sinsp_engine.h).
namespace ruleopt_tool
{
void fail(const std::string &m, const std::string &f, int64_t l, int64_t e) { ::fail(m, f, l, e); }
std::vector<std::string> read_records(const std::string &p, const char *w) { return ::read_records(p, w); }
void precheck_capture(const std::string &p) { ::precheck_capture(p); }
void open_capture(sinsp &i, const std::string &p) { ::open_capture(i, p); }
sinsp_evt *next_event(sinsp &i, const std::string &p, uint64_t n, uint64_t *c) { return ::next_event(i, p, n, c); }
void write_output(const std::string &d, const std::string &p) { ::write_output(d, p); }
void json_string(std::string &o, const std::string &s) { ::json_string(o, s); }
bool is_internal(sinsp_evt *e) { return ::is_internal(e); }
double estimate_tsc_hz() { return ::estimate_tsc_hz(); }
uint64_t rdtsc_overhead() { return ::rdtsc_overhead(); }
void progress_compile(int64_t r) { g_progress.phase = PHASE_COMPILE; g_progress.rule = r; }
void progress_filter(int64_t r) { g_progress.phase = PHASE_FILTER; g_progress.rule = r; }
}  // namespace ruleopt_tool

int main(int argc, char **argv)
{
	die_with_parent();
	install_crash_handlers();
	std::vector<std::string> args(argv + 1, argv + argc);
	try
	{
		bool internal = false;
		if(args.size() == 1 && args[0] == "version")
		{
			printf("%s\n", EXCHANGE_VERSION);
			return 0;
		}
		if(args.size() >= 3 && args[0] == "extract")
		{
			for(size_t i = 3; i < args.size(); i++)
			{
				if(args[i] == "--internal") internal = true;
				else return usage();
			}
			return cmd_extract(args[1], args[2], internal);
		}
		if(!args.empty() && args[0] == "checks") return ruleopt_cmd_checks(args);
		if(args.size() >= 3 && args[0] == "run")
		{
			int repeat = 1;
			std::string json_out;
			for(size_t i = 3; i < args.size(); i++)
			{
				if(args[i] == "--internal")
				{
					internal = true;
					continue;
				}
				if(args[i] == "--repeat" && i + 1 < args.size())
				{
					char *end = nullptr;
					long v = strtol(args[++i].c_str(), &end, 10);
					if(*end != '\0' || v < 1 || v > 1000000)
					{
						fail("--repeat needs an integer between 1 and 1000000", "");
					}
					repeat = (int)v;
				}
				else if(args[i] == "--json" && i + 1 < args.size())
				{
					json_out = args[++i];
				}
				else
				{
					return usage();
				}
			}
			return cmd_run(args[1], args[2], repeat, json_out, internal);
		}
		if(!args.empty() && args[0] == "engine")
		{
			return ruleopt_tool::cmd_engine(args);
		}
		return usage();
	}
	catch(const input_error &e)
	{
		return report(e);
	}
	catch(const std::exception &e)
	{
		fprintf(stderr, "ruleopt-sinsp: internal error: %s\n", e.what());
		return EXIT_INTERNAL;
	}
}

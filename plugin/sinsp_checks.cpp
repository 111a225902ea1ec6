// ruleopt-sinsp checks: one record per rule check, for finding where a check's
// cycles go (experiments/harness_table.py). The harness (`run`) keeps per-rule
// histograms only; this command keeps every check, with what the histograms
// cannot show: which event, which thread, how many events that thread had seen
// before (0 = the first event on a fresh thread), which pass, and (--faults) how
// many minor page faults the check took.
//
//   ruleopt-sinsp checks CAPTURE RULES [--repeat N] [--json OUT] [--rerun-matched] [--matched-only] [--fenced] [--faults]
//
// RULES: netstrings (see sinsp_tool.cpp's read_records), four per filter: id,
// name, condition, host id. A filter runs on the events whose type is in its
// host's event types (libsinsp's own filter->evttypes(), as in `run`): so one
// operand of a rule, compiled as its own filter with the rule as host, is timed
// on exactly the events the rule is checked on. Filters run in list order on
// each event, each between two rdtsc, like `run`. --matched-only keeps the records
// of the other filters only on events the first filter matched (the first filter's
// are all kept): the dump stays small when only matched events are studied.
//
// Self-contained on purpose (its own small reader and JSON writer): sinsp_tool.cpp
// keeps its helpers in an anonymous namespace and is being split by command;
// this file only needs a one-line hook in main's dispatch.

#include <sinsp.h>
#include <filter.h>
#include <filterchecks.h>

#include <sys/resource.h>
#include <x86intrin.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace ruleopt_checks {

struct bad_input : std::runtime_error
{
	using std::runtime_error::runtime_error;
};

std::vector<std::string> read_netstrings(const std::string &path)
{
	std::string data;
	if(path == "-")
	{
		data.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
	}
	else
	{
		std::ifstream in(path, std::ios::binary);
		if(!in) throw bad_input("cannot read rules list " + path);
		data.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
	}
	std::vector<std::string> recs;
	size_t pos = 0;
	while(pos < data.size())
	{
		size_t colon = data.find(':', pos);
		if(colon == std::string::npos || colon == pos || colon - pos > 12)
			throw bad_input("rules list: bad netstring length at byte " + std::to_string(pos));
		size_t len = std::stoull(data.substr(pos, colon - pos));
		if(colon + 1 + len + 1 > data.size() || data[colon + 1 + len] != ',')
			throw bad_input("rules list: truncated netstring at byte " + std::to_string(pos));
		recs.push_back(data.substr(colon + 1, len));
		pos = colon + 1 + len + 1;
	}
	return recs;
}

void json_str(std::string &out, const std::string &s)
{
	out.push_back('"');
	for(unsigned char c : s)
	{
		if(c == '"' || c == '\\')
		{
			out.push_back('\\');
			out.push_back((char)c);
		}
		else if(c < 0x20 || c >= 0x7f)
		{
			// Non-ASCII bytes as \u00XX: names stay readable, never invalid JSON.
			char buf[8];
			snprintf(buf, sizeof(buf), "\\u%04x", c);
			out += buf;
		}
		else
			out.push_back((char)c);
	}
	out.push_back('"');
}

template<typename T> void json_array(std::string &out, const char *key, const std::vector<T> &v)
{
	out += "\"";
	out += key;
	out += "\": [";
	for(size_t i = 0; i < v.size(); i++)
	{
		if(i) out.push_back(',');
		out += std::to_string(v[i]);
	}
	out += "]";
}

struct filt
{
	int64_t id;
	std::string name, condition;
	int64_t host_id;
	size_t host = 0;
	std::unique_ptr<sinsp_filter> filter;
	std::set<uint16_t> evttypes;
	std::string error;
};

// The columns of the dump, one entry per check.
unsigned g_reruns = 0;

struct dump
{
	std::vector<uint32_t> pass, filter, result;
	std::vector<uint64_t> evtnum, cycles, thread_events, minflt;
	std::vector<int64_t> tid;
};

// Re-runs every filter on an event the first filter matched, untimed and
// unrecorded. Its own non-inlined function so that an instruction counter can be
// limited to it: `valgrind --tool=callgrind --collect-atstart=no
// --toggle-collect='*rerun_matched*' ruleopt-sinsp checks ... --rerun-matched`
// counts the instructions (and, with --cache-sim=yes, the cache misses) of the
// matched checks alone, which the 2-core VM's missing hardware counters cannot.
__attribute__((noinline)) unsigned rerun_matched(std::vector<filt> &fs, const std::vector<uint32_t> &which,
						 sinsp_evt *evt)
{
	unsigned n = 0;
	for(uint32_t s : which)
	{
		try
		{
			n += fs[s].filter->run(evt) ? 1 : 0;
		}
		catch(const std::exception &)
		{
		}
	}
	return n;
}

int run(const std::string &capture, const std::string &rules_path, int repeat, const std::string &json_out,
	bool rerun, bool matched_only, bool fenced, bool faults)
{
	auto recs = read_netstrings(rules_path);
	if(recs.empty() || recs.size() % 4 != 0)
		throw bad_input("rules list: " + std::to_string(recs.size()) +
				" records is not a positive multiple of 4 (id, name, condition, host id)");
	std::vector<filt> fs;
	std::unordered_map<int64_t, size_t> by_id;
	for(size_t i = 0; i < recs.size(); i += 4)
	{
		filt f;
		f.id = std::stoll(recs[i]);
		f.name = recs[i + 1];
		f.condition = recs[i + 2];
		f.host_id = std::stoll(recs[i + 3]);
		if(!by_id.emplace(f.id, fs.size()).second) throw bad_input("duplicate filter id " + recs[i]);
		fs.push_back(std::move(f));
	}
	sinsp insp;
	insp.set_hostname_and_port_resolution_mode(false);
	for(auto &f : fs)
	{
		auto h = by_id.find(f.host_id);
		if(h == by_id.end()) throw bad_input("filter " + std::to_string(f.id) + ": unknown host id");
		f.host = h->second;
		try
		{
			sinsp_filter_compiler compiler(&insp, f.condition);
			f.filter.reset(compiler.compile());
			f.evttypes = f.filter->evttypes();
		}
		catch(const std::exception &e)
		{
			f.error = e.what();
		}
	}
	// Which filters run on each event type: those whose host's filter has that type.
	std::vector<std::vector<uint32_t>> by_type(PPM_EVENT_MAX);
	for(size_t s = 0; s < fs.size(); s++)
	{
		if(!fs[s].filter) continue;
		const filt &h = fs[fs[s].host];
		if(!h.filter) continue;
		bool all = h.evttypes.empty() || h.evttypes.size() >= PPM_EVENT_MAX;
		for(uint16_t et = 0; et < PPM_EVENT_MAX; et++)
			if(all || h.evttypes.count(et)) by_type[et].push_back((uint32_t)s);
	}

	auto t0 = std::chrono::steady_clock::now();
	uint64_t c0 = __rdtsc();
	std::this_thread::sleep_for(std::chrono::milliseconds(20));
	uint64_t c1 = __rdtsc();
	double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
	double tsc_hz = secs > 0 ? (double)(c1 - c0) / secs : 0.0;
	uint64_t overhead = UINT64_MAX;
	for(int i = 0; i < 1000; i++)
	{
		uint64_t a = __rdtsc();
		uint64_t b = __rdtsc();
		if(b - a < overhead) overhead = b - a;
	}

	dump d;
	uint64_t events = 0;
	for(int pass = 0; pass < repeat; pass++)
	{
		try
		{
			insp.open(capture);
		}
		catch(const std::exception &e)
		{
			throw bad_input(capture + ": cannot open capture: " + e.what());
		}
		// Events seen per thread in this pass (a pass reopens the capture, so
		// libsinsp's thread table starts again from the capture's process list).
		std::unordered_map<int64_t, uint64_t> seen;
		while(true)
		{
			sinsp_evt *evt = nullptr;
			int32_t rc = insp.next(&evt);
			if(rc == SCAP_TIMEOUT) continue;
			if(rc == SCAP_EOF) break;
			if(rc != SCAP_SUCCESS) throw bad_input(capture + ": error reading capture: " + insp.getlasterr());
			if(pass == 0) events++;
			uint16_t et = evt->get_type();
			int64_t tid = evt->get_tid();
			uint64_t before = seen[tid]++;
			if(et >= PPM_EVENT_MAX) continue;
			bool first_matched = false;
			for(uint32_t s : by_type[et])
			{
				bool m;
				// --faults: page faults during the check, by getrusage outside the rdtsc
				// pair. Off by default: the system call between checks leaves the next
				// check with cold caches and predictors (a short check then measures
				// several times its cost in `run`).
				struct rusage ru0 = {}, ru1 = {};
				if(faults) getrusage(RUSAGE_SELF, &ru0);
				// --fenced: lfence on both sides of each rdtsc, so no part of the check
				// runs ahead of the first read or after the second (plain rdtsc, as in
				// `run`, lets out-of-order execution overlap a short check's work with
				// the code around it).
				if(fenced) _mm_lfence();
				uint64_t a = __rdtsc();
				if(fenced) _mm_lfence();
				try
				{
					m = fs[s].filter->run(evt);
				}
				catch(const std::exception &)
				{
					m = false;
				}
				if(fenced) _mm_lfence();
				uint64_t b = __rdtsc();
				if(fenced) _mm_lfence();
				if(faults) getrusage(RUSAGE_SELF, &ru1);
				if(s == 0 && m) first_matched = true;
				// The first filter runs first on every event it shares with the others
				// (all use its event types here), so its verdict is known in time.
				if(matched_only && s != 0 && !first_matched) continue;
				d.minflt.push_back((uint64_t)(ru1.ru_minflt - ru0.ru_minflt));
				d.pass.push_back((uint32_t)pass);
				d.filter.push_back(s);
				d.result.push_back(m ? 1 : 0);
				d.evtnum.push_back(evt->get_num());
				d.cycles.push_back(b - a);
				d.thread_events.push_back(before);
				d.tid.push_back(tid);
			}
			if(rerun && first_matched) g_reruns += rerun_matched(fs, by_type[et], evt);
		}
		insp.close();
	}

	std::string out = "{\"capture\": ";
	json_str(out, capture);
	out += ", \"repeat\": " + std::to_string(repeat) + ", \"events\": " + std::to_string(events);
	char buf[64];
	snprintf(buf, sizeof(buf), "%.0f", tsc_hz);
	out += ", \"tsc_hz\": " + std::string(buf) + ", \"rdtsc_overhead\": " + std::to_string(overhead);
	out += ", \"filters\": [";
	for(size_t s = 0; s < fs.size(); s++)
	{
		if(s) out += ",";
		out += "\n {\"id\": " + std::to_string(fs[s].id) + ", \"name\": ";
		json_str(out, fs[s].name);
		out += ", \"host\": " + std::to_string(fs[s].host_id) + ", \"error\": ";
		if(fs[s].error.empty()) out += "null"; else json_str(out, fs[s].error);
		out += "}";
	}
	out += "],\n \"checks\": {";
	json_array(out, "pass", d.pass);
	out += ", ";
	json_array(out, "filter", d.filter);
	out += ", ";
	json_array(out, "result", d.result);
	out += ", ";
	json_array(out, "evtnum", d.evtnum);
	out += ", ";
	json_array(out, "cycles", d.cycles);
	out += ", ";
	json_array(out, "thread_events", d.thread_events);
	out += ", ";
	json_array(out, "tid", d.tid);
	out += ", ";
	json_array(out, "minflt", d.minflt);
	out += "}, \"rerun_matches\": " + std::to_string(g_reruns) + "}\n";
	if(json_out.empty())
	{
		fwrite(out.data(), 1, out.size(), stdout);
	}
	else
	{
		std::string tmp = json_out + ".tmp";
		std::ofstream o(tmp, std::ios::binary);
		o << out;
		o.close();
		if(!o || rename(tmp.c_str(), json_out.c_str()) != 0)
		{
			remove(tmp.c_str());
			throw bad_input("cannot write " + json_out);
		}
	}
	return 0;
}

}  // namespace ruleopt_checks

// The hook main() calls for `checks`: args as main sees them (args[0] == "checks").
int ruleopt_cmd_checks(const std::vector<std::string> &args)
{
	if(args.size() < 3)
	{
		fprintf(stderr, "usage: ruleopt-sinsp checks CAPTURE RULES [--repeat N] [--json OUT] [--rerun-matched] [--matched-only] [--fenced] [--faults]\n");
		return 2;
	}
	int repeat = 1;
	bool rerun = false, matched_only = false, fenced = false, faults = false;
	std::string json_out;
	for(size_t i = 3; i < args.size(); i++)
	{
		if(args[i] == "--repeat" && i + 1 < args.size())
		{
			char *end = nullptr;
			long v = strtol(args[++i].c_str(), &end, 10);
			if(*end != '\0' || v < 1 || v > 1000)
			{
				fprintf(stderr, "ruleopt-sinsp checks: --repeat needs an integer between 1 and 1000\n");
				return 2;
			}
			repeat = (int)v;
		}
		else if(args[i] == "--rerun-matched")
			rerun = true;
		else if(args[i] == "--matched-only")
			matched_only = true;
		else if(args[i] == "--fenced")
			fenced = true;
		else if(args[i] == "--faults")
			faults = true;
		else if(args[i] == "--json" && i + 1 < args.size())
			json_out = args[++i];
		else
		{
			fprintf(stderr, "usage: ruleopt-sinsp checks CAPTURE RULES [--repeat N] [--json OUT] [--rerun-matched] [--matched-only] [--fenced] [--faults]\n");
			return 2;
		}
	}
	try
	{
		return ruleopt_checks::run(args[1], args[2], repeat, json_out, rerun, matched_only, fenced, faults);
	}
	catch(const std::exception &e)
	{
		// Bad input and libsinsp's own exceptions alike: one line, exit 2.
		fprintf(stderr, "ruleopt-sinsp checks: %s\n", e.what());
		return 2;
	}
}

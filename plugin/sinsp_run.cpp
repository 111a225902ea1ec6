// ruleopt-sinsp run CAPTURE RULES [--repeat N] [--sample N] [--seed S] [--json OUT]
// [--internal]: the instrumented harness. Compiles each rule (id, name, condition: three
// netstrings in RULES) with libsinsp's own filter compiler, indexes them by event type as
// Falco does, runs them over the capture N times and writes, per rule, matches and rdtsc
// cycle histograms of its checks (JSON, to stdout or OUT).
//
// --sample N times next() and the checks of each event with probability 1/N (trace.h's
// sampler: geometric gaps, one countdown per event); every check is still counted.
// N = 1 (the default) times every event; N = 0 times none (the untimed pass that the
// sampling benchmark measures overhead against). Each pass's loop cycles are reported.

#include "sinsp_common.h"
#include "sinsp_commands.h"

#include <filter.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "trace.h"

namespace rsinsp
{

namespace
{

constexpr size_t MAX_RULES = RULEOPT_SINSP_MAX_RULES;
constexpr size_t MAX_MATCH_RECORDS = RULEOPT_SINSP_MAX_MATCH_RECORDS;
constexpr size_t RULE_RECORDS = RULEOPT_SINSP_RULE_RECORDS;

// Histogram cells, the log2 bucket rule and their update are trace.h's, the ones the
// compiled core records with, so both sides' figures are binned alike.
using cycle_stats = trace_cell_t;

// Counters live in static arrays indexed by rule slot so the hot loop never
// allocates; matched evt.nums go to one preallocated pool.
cycle_stats g_matched[MAX_RULES];
cycle_stats g_unmatched[MAX_RULES];
double g_matched_mom[MAX_RULES][TRACE_MOMENTS];
double g_unmatched_mom[MAX_RULES][TRACE_MOMENTS];
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

inline void record(cycle_stats &s, uint64_t c)
{
	trace_cell_add(&s, c);
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

int run(const std::string &capture, const std::string &rules_path, int repeat, const std::string &json_out,
	bool internal, uint64_t sample, uint64_t seed)
{
	// Three records per rule: id (decimal), name, condition, each verbatim.
	static_assert(RULE_RECORDS == 3, "a rule is id, name, condition");
	auto recs = read_records(rules_path, "rules list");
	const std::string where = rules_path == "-" ? "<stdin>" : rules_path;
	if(recs.size() % RULE_RECORDS != 0)
	{
		fail("rules list: " + std::to_string(recs.size()) +
			     " records is not a multiple of 3 (id, name, condition per rule)",
		     where);
	}
	std::vector<rule> rules;
	std::set<int64_t> seen_ids;
	for(size_t i = 0; i < recs.size(); i += RULE_RECORDS)
	{
		const std::string at = " (rule " + std::to_string(i / RULE_RECORDS + 1) + " of the rules list)";
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

	// TSC calibration: trace.h's, as the core does it (busy-waits ~50 ms, once).
	double tsc_hz = trace_tsc_hz();
	// The floor under every timed check: two fenced timestamps back to back (the check
	// windows are trace_rdtsc_fenced's).
	uint64_t overhead = UINT64_MAX;
	for(int i = 0; i < 1000; i++)
	{
		uint64_t a = trace_rdtsc_fenced();
		uint64_t b = trace_rdtsc_fenced();
		if(b - a < overhead) overhead = b - a;
	}

	trace_sampler_t sampler;
	trace_sampler_init(&sampler, sample, seed);
	uint64_t sampled_events = 0;
	std::vector<uint64_t> pass_cycles;

	uint64_t events_pass1 = 0;
	uint64_t events_total = 0;
	for(int pass = 0; pass < repeat; pass++)
	{
		open_capture(insp, capture);
		uint64_t last = 0, n = 0, nread = 0;
		const uint64_t pass_start = trace_rdtsc();
		while(true)
		{
			uint64_t next_cycles = 0;
			// Decided before next(): a timed event has its next() and its checks timed.
			const bool timed = trace_sampler_take(&sampler);
			sinsp_evt *evt = next_event(insp, capture, last, timed ? &next_cycles : nullptr);
			if(evt == nullptr) break;
			if(timed)
			{
				record(g_next, next_cycles);
				sampled_events++;
			}
			nread++;
			last = evt->get_num();
			if(!internal && is_internal(evt)) continue;
			n++;
			uint16_t et = evt->get_type();
			if(pass == 0 && et < PPM_EVENT_MAX) g_type_counts[et]++;
			if(et >= PPM_EVENT_MAX) continue;
			const std::vector<uint32_t> &list = by_type[et];
			// Two copies of the bucket loop, chosen once per event: a timed event's loop
			// has no branch on `timed` between its rdtscs (one would mispredict on every
			// timed event once they are rare, and its penalty would be timed).
			auto check_bucket = [&](auto timed_c)
			{
				constexpr bool TIMED = decltype(timed_c)::value;
				for(uint32_t s : list)
				{
					bool m;
					g_progress.phase = PHASE_FILTER;
					g_progress.rule = rules[s].id;
					uint64_t a = TIMED ? trace_rdtsc_fenced() : 0;
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
					uint64_t b = TIMED ? trace_rdtsc_fenced() : 0;
					g_evals[s]++;
					if(m)
					{
						if constexpr(TIMED) trace_cell_add_mom(&g_matched[s], g_matched_mom[s], b - a);
						g_matches_all[s]++;
						if(pass == 0)
						{
							g_matches_pass1[s]++;
							if(g_match_used < MAX_MATCH_RECORDS) g_match_pool[g_match_used++] = {s, last};
							else g_match_overflow = true;
						}
					}
					else if constexpr(TIMED)
					{
						trace_cell_add_mom(&g_unmatched[s], g_unmatched_mom[s], b - a);
					}
				}
			};
			if(timed) check_bucket(std::true_type{});
			else check_bucket(std::false_type{});
		}
		pass_cycles.push_back(trace_rdtsc() - pass_start);
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
	out += ", \"sample\": " + std::to_string(sample);
	out += ", \"seed\": " + std::to_string(seed);
	out += ", \"sampled_events\": " + std::to_string(sampled_events);
	out += ", \"pass_cycles\": [";
	for(size_t k = 0; k < pass_cycles.size(); k++)
	{
		if(k) out += ",";
		out += std::to_string(pass_cycles[k]);
	}
	out += "]";
	out += ", \"matched_evtnums_truncated\": " + std::string(g_match_overflow ? "true" : "false");
	out += ", \"next_cycles\": ";
	json_cell(out, g_next);
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
		json_cell(out, g_matched[s]);
		out += ", \"cycles_unmatched\": ";
		json_cell(out, g_unmatched[s]);
		// trace.h's moments: sum of squares, outliers' sum and sum of squares (doubles).
		for(int b = 0; b < 2; b++)
		{
			const double *mom = b ? g_matched_mom[s] : g_unmatched_mom[s];
			out += b ? ", \"cycles_matched_moments\": [" : ", \"cycles_unmatched_moments\": [";
			for(int k = 0; k < TRACE_MOMENTS; k++)
			{
				snprintf(buf, sizeof(buf), "%s%.17g", k ? "," : "", mom[k]);
				out += buf;
			}
			out += "]";
		}
		out += "}";
	}
	out += "\n]}\n";
	write_output(out, json_out);
	return 0;
}

}  // namespace

int cmd_run(const args &a)
{
	if(a.size() < 2) return usage();
	bool internal = false;
	int repeat = 1;
	uint64_t sample = 1, seed = 0;
	std::string json_out;
	for(size_t i = 2; i < a.size(); i++)
	{
		if(a[i] == "--internal")
		{
			internal = true;
			continue;
		}
		if(a[i] == "--repeat" && i + 1 < a.size())
		{
			char *end = nullptr;
			long v = strtol(a[++i].c_str(), &end, 10);
			if(*end != '\0' || v < 1 || v > 1000000)
			{
				fail("--repeat needs an integer between 1 and 1000000", "");
			}
			repeat = (int)v;
		}
		else if((a[i] == "--sample" || a[i] == "--seed") && i + 1 < a.size())
		{
			const bool is_sample = a[i] == "--sample";
			const std::string &v = a[++i];
			char *end = nullptr;
			errno = 0;
			unsigned long long x = v.empty() || v[0] < '0' || v[0] > '9' ? 0 : strtoull(v.c_str(), &end, 10);
			if(end != v.c_str() + v.size() || errno != 0 || (is_sample && x > TRACE_MAX_SAMPLE))
			{
				fail(is_sample ? "--sample needs an integer between 0 and " + std::to_string(TRACE_MAX_SAMPLE)
					       : "--seed needs a non-negative 64-bit integer",
				     "");
			}
			(is_sample ? sample : seed) = x;
		}
		else if(a[i] == "--json" && i + 1 < a.size())
		{
			json_out = a[++i];
		}
		else
		{
			return usage();
		}
	}
	return run(a[0], a[1], repeat, json_out, internal, sample, seed);
}

}  // namespace rsinsp

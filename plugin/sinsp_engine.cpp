// ruleopt-sinsp engine: the study's strategies inside the real engine.
//
//   ruleopt-sinsp engine --version
//   ruleopt-sinsp engine CAPTURE RULES --strategy NAME:INDEX:MATCHER:OUTPUT [...]
//                        [--mode first|all] [--repeat N] [--warmup N] [--alerts]
//                        [--json OUT] [--internal] [--event-costs FILE] [--finer TREE]
//
// RULES: netstrings (see read_records in sinsp_tool.cpp), five per rule in Falco's load
// order: id, name, priority (as Falco prints it: "Warning"), output format, condition.
// Every condition is compiled by libsinsp's own compiler and every format is checked by
// building libsinsp's sinsp_evt_formatter at load time; a rule that fails either shows up
// with status "error" and takes no part (the Python side refuses such a ruleset, as Falco does).
//
// A strategy is one index x one matcher x one output, the names Python uses:
//   index   evttype    Falco's: the compiled filter's event types (sinsp_filter::evttypes)
//           finer      the evttype bucket refined by ruleopt.engine.finer's tree (--finer
//                      TREE, trained by Python on another workload): per node a field
//                      extracted through a filtercheck, a per-value cache filled on first
//                      sight by the rules' one-field conjuncts (sinsp_finer.h); all of it
//                      is timed in the index stage
//   matcher recursive  libsinsp's own compiled filter tree (sinsp_filter::run)
//           rewrite    the same, on the condition text ruleopt rewrote (Python sends it in
//                      RULES; ruleopt.engine.matcher_rewrite): libsinsp compiles it as any
//                      condition, so only the name differs here
//   output  lua        seed-era Falco (0.17-0.26): the rule's metadata lives in Lua tables;
//                      per alert the engine calls Lua's on_event(id) for the rule's name,
//                      priority and format (counting alerts by rule and priority there, as
//                      rule_loader.lua did), then Lua's output_event builds the full format
//                      string and calls back into C++, which formats the event through
//                      libsinsp's sinsp_evt_formatter_cache (keyed by the format string, as
//                      falco_formats::format_event did)
//           cached     proposal 3: one sinsp_evt_formatter per rule built at load time, in
//                      an array indexed by rule slot; an alert is an index and tostring()
//           none       no output (rule evaluation alone)
//
// Both outputs format the same string ("*%evt.time: <Priority> <format>", Falco's) with
// the same libsinsp formatter class, so their lines are byte-identical by construction;
// the tests check it on captures anyway.
//
// Modes: "first" (seed-era Falco: the rule loop stops at the first match, one alert per
// event at most) and "all" (Falco 0.36+ rule_matching: all: every matching rule alerts).
//
// Measurement: repeats are interleaved (warm-up passes first, unrecorded, then repeat 1 of
// every strategy, repeat 2, ...); only a process's first pass is sure to see the capture
// as a fresh Falco does (see cmd_engine), so ruleopt.engine.real runs one per process.
// Each event's iteration is timed per stage with rdtsc as the harness does (trace.h
// cells: count, sum, log2 histogram): next() (sinsp::next alone), index (the bucket
// lookup), rule checks (the bucket's filters), output (the event's alerts formatted), and
// the whole iteration; each by branch RULES_UNBROKEN (no match) / RULES_BROKEN (a match). Every alert's formatting is also timed on its own.
// Internal events (procinfo snapshots) are skipped as in `run` unless --internal.
// --event-costs FILE (one strategy): every measured event's stage cycles of the first
// measured pass, in event order, for the rate replay (sinsp_event_costs.h).

#include "sinsp_engine.h"
#include "sinsp_event_costs.h"
#include "sinsp_finer.h"
#include "trace.h"

#include <eventformatter.h>
#include <filter.h>

extern "C" {
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
}

#include <algorithm>
#include <cinttypes>
#include <cstring>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace ruleopt_tool
{
namespace
{

constexpr const char *ENGINE_VERSION = "ruleopt-sinsp engine 1";
constexpr size_t ENGINE_MAX_RULES = 4096;
constexpr size_t MAX_ALERT_RECORDS = 1 << 20;

struct engine_rule
{
	int64_t id;
	std::string name;
	std::string priority;
	std::string output;  // the rule's format, as written
	std::string condition;
	std::string full_format;  // what both output paths format: Falco's prefix + format
	std::unique_ptr<sinsp_filter> filter;
	std::string error;
	uint64_t runtime_errors = 0;
	int64_t first_error_evtnum = -1;
	std::string runtime_error;
};

// Falco's alert prefix: the event time, the priority, then the rule's format. The leading
// '*' is what seed-era Falco put there too (sinsp_evt_formatter: require all values).
std::string falco_format(const engine_rule &r)
{
	return "*%evt.time: " + r.priority + " " + r.output;
}

// ---------------------------------------------------------------- output paths

struct output_path
{
	virtual ~output_path() = default;
	// Fills `line` with the alert line of rule `slot` on `evt`.
	virtual void format(size_t slot, sinsp_evt *evt, std::string &line) = 0;
};

struct no_output : output_path
{
	void format(size_t, sinsp_evt *, std::string &line) override { line.clear(); }
};

// Proposal 3: formatters prepared at load time, a direct-access array by rule slot.
struct cached_output : output_path
{
	std::vector<std::unique_ptr<sinsp_evt_formatter>> fmts;

	cached_output(sinsp &insp, const std::vector<engine_rule> &rules) : fmts(rules.size())
	{
		for(size_t s = 0; s < rules.size(); s++)
		{
			if(rules[s].filter) fmts[s].reset(new sinsp_evt_formatter(&insp, rules[s].full_format));
		}
	}

	void format(size_t slot, sinsp_evt *evt, std::string &line) override
	{
		fmts[slot]->tostring(evt, &line);
	}
};

// The Lua side of the seed-era path. Our own code, after what Falco 0.17-0.26 did:
// rule_loader.lua kept the rules in tables and its on_event(id) counted the alert and
// returned (rule, priority, format); output.lua put Falco's prefix on the format and
// called the C++ formatter.
const char *LUA_SOURCE = R"lua(
local rules = {}
local counts = {total = 0, by_priority = {}, by_name = {}}
function load_rule(id, name, priority, output)
  rules[id] = {rule = name, priority = priority, output = output}
end
function on_event(id)
  local r = rules[id]
  counts.total = counts.total + 1
  counts.by_priority[r.priority] = (counts.by_priority[r.priority] or 0) + 1
  counts.by_name[r.rule] = (counts.by_name[r.rule] or 0) + 1
  return r.rule, r.priority, r.output
end
function output_event(evt, rule, priority, format)
  return format_event(evt, "*%evt.time: " .. priority .. " " .. format)
end
function alert_count()
  return counts.total
end
)lua";

struct lua_output : output_path
{
	lua_State *L = nullptr;
	sinsp_evt_formatter_cache cache;
	std::vector<int64_t> ids;
	std::string scratch;

	lua_output(sinsp &insp, const std::vector<engine_rule> &rules) : cache(&insp)
	{
		L = luaL_newstate();
		if(L == nullptr) throw std::runtime_error("cannot create a Lua state");
		luaL_openlibs(L);
		lua_pushlightuserdata(L, this);
		lua_pushcclosure(L, &lua_output::format_event, 1);
		lua_setglobal(L, "format_event");
		if(luaL_loadbuffer(L, LUA_SOURCE, strlen(LUA_SOURCE), "ruleopt_output") != 0 ||
		   lua_pcall(L, 0, 0, 0) != 0)
		{
			throw std::runtime_error(std::string("Lua: ") + lua_tostring(L, -1));
		}
		for(const engine_rule &r : rules)
		{
			ids.push_back(r.id);
			if(!r.filter) continue;
			lua_getglobal(L, "load_rule");
			lua_pushinteger(L, (lua_Integer)r.id);
			lua_pushlstring(L, r.name.data(), r.name.size());
			lua_pushlstring(L, r.priority.data(), r.priority.size());
			lua_pushlstring(L, r.output.data(), r.output.size());
			call(4, 0);
		}
	}

	~lua_output() override
	{
		if(L != nullptr) lua_close(L);
	}

	void call(int nargs, int nresults)
	{
		if(lua_pcall(L, nargs, nresults, 0) != 0)
		{
			std::string msg = lua_tostring(L, -1) ? lua_tostring(L, -1) : "?";
			lua_settop(L, 0);
			throw std::runtime_error("Lua: " + msg);
		}
	}

	// format_event(evt, format) -> line: the C function Lua's output_event calls.
	static int format_event(lua_State *L)
	{
		auto *self = static_cast<lua_output *>(lua_touserdata(L, lua_upvalueindex(1)));
		auto *evt = static_cast<sinsp_evt *>(lua_touserdata(L, 1));
		size_t n = 0;
		const char *f = lua_tolstring(L, 2, &n);
		std::string fmt(f, n);
		try
		{
			self->cache.tostring(evt, fmt, &self->scratch);
		}
		catch(const std::exception &e)
		{
			// An exception must not unwind through Lua's frames: a Lua error instead,
			// which format() turns back into one.
			lua_pushstring(L, e.what());
			return lua_error(L);
		}
		lua_pushlstring(L, self->scratch.data(), self->scratch.size());
		return 1;
	}

	void format(size_t slot, sinsp_evt *evt, std::string &line) override
	{
		int base = lua_gettop(L);
		lua_getglobal(L, "on_event");
		lua_pushinteger(L, (lua_Integer)ids[slot]);
		call(1, 3);  // rule, priority, format
		lua_getglobal(L, "output_event");
		lua_pushlightuserdata(L, evt);
		lua_pushvalue(L, -5);
		lua_pushvalue(L, -5);
		lua_pushvalue(L, -5);
		call(4, 1);
		size_t n = 0;
		const char *s = lua_tolstring(L, -1, &n);
		line.assign(s ? s : "", n);
		lua_settop(L, base);
	}

	uint64_t alert_count()
	{
		lua_getglobal(L, "alert_count");
		call(0, 1);
		uint64_t n = (uint64_t)lua_tointeger(L, -1);
		lua_pop(L, 1);
		return n;
	}
};

// ---------------------------------------------------------------- strategies

struct pass_totals
{
	uint64_t events = 0;
	uint64_t checks = 0;
	uint64_t alerts = 0;
	uint64_t next_cycles = 0;
	uint64_t index_cycles = 0;
	uint64_t check_cycles = 0;
	uint64_t output_cycles = 0;
	uint64_t iteration_cycles = 0;
	// The median of the pass's per-alert formatting cycles: on a shared machine a few
	// preempted alerts move the mean (output_cycles / alerts) far more than the median.
	uint64_t output_median = 0;
	finer_counts finer;  // index finer only
	std::vector<uint64_t> checks_by_slot;  // full rule checks, by rule slot
};

struct alert_rec
{
	int64_t rule_id;
	uint64_t evtnum;
	std::string line;
};

struct strategy
{
	std::string name, index, matcher, output;
	std::unique_ptr<output_path> out;
	lua_output *lua = nullptr;  // the lua output of the current pass
	uint64_t lua_alerts = 0;    // alerts Lua's on_event counted, over every pass
	trace_cell_t stages[TRACE_NUM_STAGES][TRACE_NUM_BRANCHES] = {};
	trace_cell_t per_alert = {};
	std::vector<pass_totals> passes;
	std::vector<alert_rec> alerts;
	bool alerts_truncated = false;
	event_cost_log costs;  // --event-costs: per-event stage cycles
	// index finer: what its load found (the same on every pass)
	std::vector<std::string> finer_errors;
	size_t finer_conjuncts = 0;
};

const char *STAGE_NAMES[TRACE_NUM_STAGES] = {"next", "index", "rule_checks", "output", "iteration"};
const char *BRANCH_NAMES[TRACE_NUM_BRANCHES] = {"scap_timeout", "rules_unbroken", "rules_broken"};

strategy make_strategy(const std::string &spec)
{
	// NAME:INDEX:MATCHER:OUTPUT
	std::vector<std::string> parts;
	size_t start = 0;
	while(true)
	{
		size_t colon = spec.find(':', start);
		parts.push_back(spec.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
		if(colon == std::string::npos) break;
		start = colon + 1;
	}
	if(parts.size() != 4 || parts[0].empty())
	{
		fail("--strategy '" + spec + "': expected NAME:INDEX:MATCHER:OUTPUT", "");
	}
	strategy s;
	s.name = parts[0];
	s.index = parts[1];
	s.matcher = parts[2];
	s.output = parts[3];
	// Matcher "rewrite" runs the condition text it was sent (Python rewrote it).
	if(s.index != "evttype" && s.index != "finer")
	{
		fail("--strategy '" + spec + "': index '" + s.index +
			     "' is not in the real engine (known: evttype, finer)",
		     "");
	}
	if(s.matcher != "recursive" && s.matcher != "rewrite")
	{
		fail("--strategy '" + spec + "': matcher '" + s.matcher +
			     "' is not in the real engine (known: recursive, rewrite)",
		     "");
	}
	if(s.output != "lua" && s.output != "cached" && s.output != "none")
	{
		fail("--strategy '" + spec + "': output '" + s.output + "' is unknown (known: lua, cached, none)", "");
	}
	return s;
}

struct options
{
	std::string capture, rules_path, json_out, mode = "first", event_costs, finer_path;
	std::vector<std::string> specs;
	int repeat = 1, warmup = 1;
	bool alerts = false, internal = false;
};

int parse_count(const std::string &flag, const std::string &text, int lo)
{
	char *end = nullptr;
	long v = strtol(text.c_str(), &end, 10);
	if(text.empty() || *end != '\0' || v < lo || v > 1000000)
	{
		fail(flag + " needs an integer between " + std::to_string(lo) + " and 1000000", "");
	}
	return (int)v;
}

int engine_usage()
{
	fprintf(stderr,
		"usage: ruleopt-sinsp engine --version\n"
		"       ruleopt-sinsp engine CAPTURE RULES --strategy NAME:INDEX:MATCHER:OUTPUT [...]\n"
		"              [--mode first|all] [--repeat N] [--warmup N] [--alerts] [--json OUT] [--internal]\n"
		"              [--event-costs FILE] [--finer TREE]\n"
		"RULES: netstrings, five per rule: id, name, priority, output format, condition\n"
		"TREE: the finer index's tree (netstrings, see sinsp_finer.h), needed by index finer\n"
		"INDEX: evttype, finer; MATCHER: recursive, rewrite; OUTPUT: lua, cached, none\n");
	return 2;
}

std::vector<engine_rule> read_rules(const std::string &path)
{
	auto recs = read_records(path, "rules list");
	const std::string where = path == "-" ? "<stdin>" : path;
	if(recs.size() % 5 != 0)
	{
		fail("rules list: " + std::to_string(recs.size()) +
			     " records is not a multiple of 5 (id, name, priority, output, condition per rule)",
		     where);
	}
	std::vector<engine_rule> rules;
	std::set<int64_t> seen;
	for(size_t i = 0; i < recs.size(); i += 5)
	{
		const std::string at = " (rule " + std::to_string(i / 5 + 1) + " of the rules list)";
		const std::string &ids = recs[i];
		char *end = nullptr;
		errno = 0;
		long long id = ids.empty() || ids[0] < '0' || ids[0] > '9' ? -1 : strtoll(ids.c_str(), &end, 10);
		if(id < 0 || end != ids.c_str() + ids.size() || errno != 0)
		{
			fail("rule id '" + ids + "' is not a non-negative integer" + at, where);
		}
		if(!seen.insert(id).second) fail("duplicate rule id " + ids + at, where);
		if(rules.size() >= ENGINE_MAX_RULES)
		{
			fail("too many rules: at most " + std::to_string(ENGINE_MAX_RULES) + " are supported", where);
		}
		engine_rule r;
		r.id = id;
		r.name = recs[i + 1];
		r.priority = recs[i + 2];
		r.output = recs[i + 3];
		r.condition = recs[i + 4];
		r.full_format = falco_format(r);
		rules.push_back(std::move(r));
	}
	return rules;
}

// Compiles every rule against `insp` (its filters and formatters belong to it). A rule
// that failed once keeps its error and stays out.
void compile_rules(sinsp &insp, std::vector<engine_rule> &rules)
{
	for(engine_rule &r : rules)
	{
		r.filter.reset();
		if(!r.error.empty()) continue;
		progress_compile(r.id);
		try
		{
			sinsp_filter_compiler compiler(&insp, r.condition);
			r.filter.reset(compiler.compile());
		}
		catch(const std::exception &e)
		{
			r.error = std::string("condition: ") + e.what();
			continue;
		}
		try
		{
			// Falco refuses a rule whose output libsinsp cannot format: check at load,
			// for both paths (the Lua path builds its formatter on the first alert).
			sinsp_evt_formatter probe(&insp, r.full_format);
		}
		catch(const std::exception &e)
		{
			r.error = std::string("output: ") + e.what();
			r.filter.reset();
		}
	}
}

// The evttype index, built as `run` builds it (Falco 0.31's: the filter's event types; a
// filter that names none runs on every event).
std::vector<std::vector<uint32_t>> build_index(const std::vector<engine_rule> &rules)
{
	std::vector<std::vector<uint32_t>> by_type(PPM_EVENT_MAX);
	for(size_t s = 0; s < rules.size(); s++)
	{
		if(!rules[s].filter) continue;
		std::set<uint16_t> types = rules[s].filter->evttypes();
		bool all = types.empty() || types.size() >= PPM_EVENT_MAX;
		for(uint16_t et = 0; et < PPM_EVENT_MAX; et++)
		{
			if(all || types.count(et)) by_type[et].push_back((uint32_t)s);
		}
	}
	return by_type;
}

// One pass of one strategy over the capture. `record` false: a warm-up pass.
void run_pass(sinsp &insp, const options &o, std::vector<engine_rule> &rules,
	      const std::vector<std::vector<uint32_t>> &by_type, finer_index *finer, strategy &st,
	      bool record, bool count_errors, bool keep_alerts)
{
	const bool first_only = o.mode == "first";
	open_capture(insp, o.capture);
	pass_totals tot;
	tot.checks_by_slot.assign(rules.size(), 0);
	std::vector<uint32_t> hits;
	hits.reserve(rules.size());
	std::vector<std::string> lines(rules.size() + 1);
	std::vector<uint64_t> alert_cycles(rules.size() + 1);
	std::vector<uint64_t> pass_alert_cycles;
	uint64_t last = 0, nread = 0;
	while(true)
	{
		uint64_t c0 = __rdtsc();
		uint64_t next_cycles = 0;
		sinsp_evt *evt = next_event(insp, o.capture, last, &next_cycles);
		if(evt == nullptr) break;
		nread++;
		last = evt->get_num();
		if(!o.internal && is_internal(evt)) continue;
		uint64_t c1 = __rdtsc();
		uint16_t et = evt->get_type();
		static const std::vector<uint32_t> none;
		const std::vector<uint32_t> &bucket =
			finer != nullptr ? finer->route(evt) : et < PPM_EVENT_MAX ? by_type[et] : none;
		uint64_t c2 = __rdtsc();
		hits.clear();
		uint64_t checks = 0;
		for(uint32_t s : bucket)
		{
			checks++;
			tot.checks_by_slot[s]++;
			progress_filter(rules[s].id);
			bool m;
			try
			{
				m = rules[s].filter->run(evt);
			}
			catch(const std::exception &e)
			{
				// As in `run`: a filter that throws (some fd.* checks on sockets of
				// the wrong kind) is "not matched" for this event, and reported.
				m = false;
				if(count_errors && rules[s].runtime_errors++ == 0)
				{
					rules[s].first_error_evtnum = (int64_t)last;
					rules[s].runtime_error = e.what();
				}
			}
			if(m)
			{
				hits.push_back(s);
				if(first_only) break;
			}
		}
		uint64_t c3 = __rdtsc();
		for(size_t k = 0; k < hits.size(); k++)
		{
			uint64_t a = __rdtsc();
			st.out->format(hits[k], evt, lines[k]);
			uint64_t b = __rdtsc();
			alert_cycles[k] = b - a;
		}
		uint64_t c4 = __rdtsc();
		if(!record) continue;
		for(size_t k = 0; k < hits.size(); k++)
		{
			trace_cell_add(&st.per_alert, alert_cycles[k]);
			pass_alert_cycles.push_back(alert_cycles[k]);
		}
		unsigned br = hits.empty() ? TRACE_BRANCH_RULES_UNBROKEN : TRACE_BRANCH_RULES_BROKEN;
		trace_cell_add(&st.stages[TRACE_STAGE_NEXT_EVENT][br], next_cycles);
		trace_cell_add(&st.stages[TRACE_STAGE_INDEX_LOOKUP][br], c2 - c1);
		trace_cell_add(&st.stages[TRACE_STAGE_RULE_CHECKS][br], c3 - c2);
		trace_cell_add(&st.stages[TRACE_STAGE_OUTPUT][br], c4 - c3);
		trace_cell_add(&st.stages[TRACE_STAGE_ITERATION][br], c4 - c0);
		tot.events++;
		tot.checks += checks;
		tot.alerts += hits.size();
		tot.next_cycles += next_cycles;
		tot.index_cycles += c2 - c1;
		tot.check_cycles += c3 - c2;
		tot.output_cycles += c4 - c3;
		tot.iteration_cycles += c4 - c0;
		st.costs.record(next_cycles, c2 - c1, c3 - c2, c4 - c3);
		if(keep_alerts)
		{
			for(size_t k = 0; k < hits.size(); k++)
			{
				if(st.alerts.size() >= MAX_ALERT_RECORDS)
				{
					st.alerts_truncated = true;
					break;
				}
				st.alerts.push_back({rules[hits[k]].id, last, lines[k]});
			}
		}
	}
	insp.close();
	if(nread == 0) fail("capture contains no events (not a scap file, or truncated?)", o.capture);
	if(!pass_alert_cycles.empty())
	{
		auto mid = pass_alert_cycles.begin() + pass_alert_cycles.size() / 2;
		std::nth_element(pass_alert_cycles.begin(), mid, pass_alert_cycles.end());
		tot.output_median = *mid;
	}
	if(finer != nullptr) tot.finer = finer->counts;
	if(record) st.passes.push_back(tot);
	if(record) st.costs.end_pass();
}

std::string report(const options &o, const std::vector<engine_rule> &rules,
		   const std::vector<strategy> &strats, double tsc_hz, uint64_t overhead)
{
	std::string out = "{\"engine\": \"libsinsp\", \"version\": ";
	json_string(out, ENGINE_VERSION);
	out += ", \"capture\": ";
	json_string(out, o.capture);
	out += ", \"mode\": ";
	json_string(out, o.mode);
	out += ", \"repeat\": " + std::to_string(o.repeat) + ", \"warmup\": " + std::to_string(o.warmup);
	char buf[64];
	snprintf(buf, sizeof(buf), "%.0f", tsc_hz);
	out += ", \"tsc_hz\": " + std::string(buf);
	out += ", \"rdtsc_overhead\": " + std::to_string(overhead);
	out += ", \"rules\": [";
	for(size_t s = 0; s < rules.size(); s++)
	{
		const engine_rule &r = rules[s];
		if(s) out += ",";
		out += "\n {\"id\": " + std::to_string(r.id) + ", \"status\": ";
		out += r.error.empty() ? "\"ok\"" : "\"error\"";
		out += ", \"error\": ";
		if(r.error.empty()) out += "null";
		else json_string(out, r.error);
		out += ", \"runtime_errors\": " + std::to_string(r.runtime_errors);
		out += ", \"first_error_evtnum\": " + std::to_string(r.first_error_evtnum);
		out += ", \"runtime_error\": ";
		if(r.runtime_error.empty()) out += "null";
		else json_string(out, r.runtime_error);
		out += "}";
	}
	out += "\n], \"strategies\": [";
	for(size_t k = 0; k < strats.size(); k++)
	{
		const strategy &st = strats[k];
		if(k) out += ",";
		out += "\n {\"name\": ";
		json_string(out, st.name);
		out += ", \"index\": ";
		json_string(out, st.index);
		out += ", \"matcher\": ";
		json_string(out, st.matcher);
		out += ", \"output\": ";
		json_string(out, st.output);
		if(st.output == "lua") out += ", \"lua_alert_count\": " + std::to_string(st.lua_alerts);
		if(st.index == "finer")
		{
			out += ", \"finer_conjunct_filters\": " + std::to_string(st.finer_conjuncts);
			out += ", \"finer_load_errors\": [";
			for(size_t e = 0; e < st.finer_errors.size(); e++)
			{
				if(e) out += ", ";
				json_string(out, st.finer_errors[e]);
			}
			out += "]";
		}
		out += ", \"passes\": [";
		for(size_t p = 0; p < st.passes.size(); p++)
		{
			const pass_totals &t = st.passes[p];
			if(p) out += ", ";
			out += "{\"events\": " + std::to_string(t.events) + ", \"checks\": " + std::to_string(t.checks) +
			       ", \"alerts\": " + std::to_string(t.alerts) +
			       ", \"next_cycles\": " + std::to_string(t.next_cycles) +
			       ", \"index_cycles\": " + std::to_string(t.index_cycles) +
			       ", \"check_cycles\": " + std::to_string(t.check_cycles) +
			       ", \"output_cycles\": " + std::to_string(t.output_cycles) +
			       ", \"iteration_cycles\": " + std::to_string(t.iteration_cycles) +
			       ", \"output_median_per_alert\": " + std::to_string(t.output_median);
			if(st.index == "finer")
			{
				out += ", \"finer\": {\"extractions\": " + std::to_string(t.finer.extractions) +
				       ", \"misses\": " + std::to_string(t.finer.misses) +
				       ", \"conjunct_evals\": " + std::to_string(t.finer.conjunct_evals) +
				       ", \"conjunct_errors\": " + std::to_string(t.finer.conjunct_errors) +
				       ", \"extract_errors\": " + std::to_string(t.finer.extract_errors) +
				       ", \"instances\": " + std::to_string(t.finer.instances) +
				       ", \"extract_cycles\": " + std::to_string(t.finer.extract_cycles) +
				       ", \"miss_cycles\": " + std::to_string(t.finer.miss_cycles) +
				       ", \"direct_events\": " + std::to_string(t.finer.direct_events) +
				       ", \"direct_cycles\": " + std::to_string(t.finer.direct_cycles) + "}";
			}
			// Which rules the checks went to: where the index left work.
			out += ", \"checks_by_rule\": {";
			bool first_rule = true;
			for(size_t s = 0; s < t.checks_by_slot.size(); s++)
			{
				if(!t.checks_by_slot[s]) continue;
				if(!first_rule) out += ", ";
				first_rule = false;
				out += "\"" + std::to_string(rules[s].id) + "\": " + std::to_string(t.checks_by_slot[s]);
			}
			out += "}}";
		}
		out += "], \"stages\": {";
		for(unsigned sg = 0; sg < TRACE_NUM_STAGES; sg++)
		{
			if(sg) out += ", ";
			out += "\"" + std::string(STAGE_NAMES[sg]) + "\": {";
			for(unsigned b = TRACE_BRANCH_RULES_UNBROKEN; b < TRACE_NUM_BRANCHES; b++)
			{
				if(b != TRACE_BRANCH_RULES_UNBROKEN) out += ", ";
				out += "\"" + std::string(BRANCH_NAMES[b]) + "\": ";
				json_cell(out, st.stages[sg][b]);
			}
			out += "}";
		}
		out += "}, \"output_per_alert\": ";
		json_cell(out, st.per_alert);
		out += ", \"alerts_truncated\": " + std::string(st.alerts_truncated ? "true" : "false");
		out += ", \"alerts\": [";
		for(size_t a = 0; a < st.alerts.size(); a++)
		{
			if(a) out += ",";
			out += "\n  [" + std::to_string(st.alerts[a].rule_id) + ", " + std::to_string(st.alerts[a].evtnum) + ", ";
			json_string(out, st.alerts[a].line);
			out += "]";
		}
		out += "]}";
	}
	out += "\n]}\n";
	return out;
}

}  // namespace

int cmd_engine(const std::vector<std::string> &args)
{
	if(args.size() == 2 && args[1] == "--version")
	{
		printf("%s\n", ENGINE_VERSION);
		return 0;
	}
	if(args.size() < 3 || args[1] == "--help") return engine_usage();
	options o;
	o.capture = args[1];
	o.rules_path = args[2];
	for(size_t i = 3; i < args.size(); i++)
	{
		const std::string &a = args[i];
		bool has_value = i + 1 < args.size();
		if(a == "--strategy" && has_value) o.specs.push_back(args[++i]);
		else if(a == "--mode" && has_value) o.mode = args[++i];
		else if(a == "--repeat" && has_value) o.repeat = parse_count("--repeat", args[++i], 1);
		else if(a == "--warmup" && has_value) o.warmup = parse_count("--warmup", args[++i], 0);
		else if(a == "--json" && has_value) o.json_out = args[++i];
		else if(a == "--alerts") o.alerts = true;
		else if(a == "--internal") o.internal = true;
		else if(a == "--event-costs" && has_value) o.event_costs = args[++i];
		else if(a == "--finer" && has_value) o.finer_path = args[++i];
		else return engine_usage();
	}
	if(o.mode != "first" && o.mode != "all") fail("--mode must be 'first' or 'all', not '" + o.mode + "'", "");
	if(o.specs.empty()) fail("engine: give at least one --strategy NAME:INDEX:MATCHER:OUTPUT", "");
	std::vector<strategy> strats;
	std::set<std::string> names;
	for(const std::string &spec : o.specs)
	{
		strats.push_back(make_strategy(spec));
		if(!names.insert(strats.back().name).second) fail("duplicate strategy name '" + strats.back().name + "'", "");
	}
	if(!o.event_costs.empty())
	{
		if(strats.size() != 1) fail("--event-costs records one strategy: give exactly one --strategy", "");
		strats[0].costs = event_cost_log(o.event_costs);
	}
	bool any_finer = false;
	for(const strategy &st : strats) any_finer = any_finer || st.index == "finer";
	if(any_finer && o.finer_path.empty()) fail("engine: index finer needs its tree: --finer TREE", "");
	if(o.finer_path == "-") fail("--finer: the tree must be a file (the rules list may be stdin)", "");
	precheck_capture(o.capture);

	std::vector<engine_rule> rules = read_rules(o.rules_path);
	std::vector<int64_t> rule_ids;
	for(const engine_rule &r : rules) rule_ids.push_back(r.id);
	finer_template tree;
	if(any_finer) tree = read_finer(o.finer_path, rule_ids);
	double tsc_hz = estimate_tsc_hz();
	uint64_t overhead = rdtsc_overhead();
	for(int pass = 0; pass < o.warmup + o.repeat; pass++)
	{
		bool record = pass >= o.warmup;
		for(strategy &st : strats)
		{
			// Every pass gets a fresh inspector, compiled rules and output path (load
			// time, outside every timed stage). That is not enough for a second pass to
			// read the capture as a freshly started Falco: libsinsp 2022 keeps some
			// process-wide state (a container event's user.name renders <NA> on a second
			// pass, where sysdig and a first pass say "root"), so ruleopt runs one pass
			// per process (--repeat 1 --warmup 0) and interleaves processes itself.
			sinsp insp;
			insp.set_hostname_and_port_resolution_mode(false);
			compile_rules(insp, rules);
			auto by_type = build_index(rules);
			std::unique_ptr<finer_index> finer;
			if(st.index == "finer")
			{
				finer.reset(new finer_index(insp, tree, rule_ids, by_type));
				st.finer_errors = finer->load_errors;
				st.finer_conjuncts = finer->conjunct_filters;
			}
			if(st.output == "cached") st.out.reset(new cached_output(insp, rules));
			else if(st.output == "lua")
			{
				auto *l = new lua_output(insp, rules);
				st.out.reset(l);
				st.lua = l;
			}
			else st.out.reset(new no_output());
			// Rules' runtime errors are counted once, on the first measured pass of the
			// first strategy: every strategy runs the same filters on the same events.
			bool count_errors = record && pass == o.warmup && &st == &strats[0];
			run_pass(insp, o, rules, by_type, finer.get(), st, record, count_errors,
				 record && o.alerts && pass == o.warmup);
			if(st.lua != nullptr) st.lua_alerts += st.lua->alert_count();
			// The output path and the filters refer to this inspector: gone before it is.
			st.lua = nullptr;
			st.out.reset();
			finer.reset();
			for(engine_rule &r : rules) r.filter.reset();
		}
	}
	for(const strategy &st : strats) st.costs.write();
	write_output(report(o, rules, strats, tsc_hz, overhead), o.json_out);
	return 0;
}

}  // namespace ruleopt_tool

// The real-engine strategies command of ruleopt-sinsp (sinsp_engine.cpp) and the shared
// helpers it uses (sinsp_common.h, trace.h), named in its own namespace.
#ifndef RULEOPT_SINSP_ENGINE_H
#define RULEOPT_SINSP_ENGINE_H

#include <sinsp.h>

#include "sinsp_common.h"
#include "trace.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ruleopt_tool
{
// The tool's shared parts (sinsp_common.h), under the names this file uses.
using rsinsp::fail;
using rsinsp::is_internal;
using rsinsp::json_cell;
using rsinsp::json_string;
using rsinsp::next_event;
using rsinsp::open_capture;
using rsinsp::precheck_capture;
using rsinsp::rdtsc_overhead;
using rsinsp::read_records;
using rsinsp::write_output;
inline double estimate_tsc_hz() { return trace_tsc_hz(); }
// Where the crash handler says we were: compiling or running rule `rule`.
inline void progress_compile(int64_t rule)
{
	rsinsp::g_progress.phase = rsinsp::PHASE_COMPILE;
	rsinsp::g_progress.rule = rule;
}
inline void progress_filter(int64_t rule)
{
	rsinsp::g_progress.phase = rsinsp::PHASE_FILTER;
	rsinsp::g_progress.rule = rule;
}

// ruleopt-sinsp engine ... (args[0] == "engine"); returns the exit code.
int cmd_engine(const std::vector<std::string> &args);
}  // namespace ruleopt_tool

#endif

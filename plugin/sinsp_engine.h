// The real-engine strategies command of ruleopt-sinsp (sinsp_engine.cpp) and the few
// helpers of sinsp_tool.cpp it reuses. Those helpers live in sinsp_tool.cpp's anonymous
// namespace; sinsp_tool.cpp exports them under ruleopt_tool:: with one-line forwarders,
// so this file depends on their signatures only, not on where they are defined.
#ifndef RULEOPT_SINSP_ENGINE_H
#define RULEOPT_SINSP_ENGINE_H

#include <sinsp.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ruleopt_tool
{
// Throws the tool's input error (exit code 2, one human line and one JSON line).
[[noreturn]] void fail(const std::string &msg, const std::string &file, int64_t line = -1,
		       int64_t event = -1);
std::vector<std::string> read_records(const std::string &path, const char *what);
void precheck_capture(const std::string &path);
void open_capture(sinsp &insp, const std::string &path);
// nullptr at end of capture; *cycles receives the rdtsc cycles of sinsp::next alone.
sinsp_evt *next_event(sinsp &insp, const std::string &path, uint64_t last_num, uint64_t *cycles);
void write_output(const std::string &doc, const std::string &out_path);
void json_string(std::string &out, const std::string &s);
bool is_internal(sinsp_evt *evt);
double estimate_tsc_hz();
uint64_t rdtsc_overhead();
// Where the crash handler says we were: compiling or running rule `rule`.
void progress_compile(int64_t rule);
void progress_filter(int64_t rule);

// ruleopt-sinsp engine ... (args[0] == "engine"); returns the exit code.
int cmd_engine(const std::vector<std::string> &args);
}  // namespace ruleopt_tool

#endif

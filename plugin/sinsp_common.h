// Shared parts of ruleopt-sinsp (see sinsp_tool.cpp for the commands): crash progress,
// input errors, the exchange (netstrings in, JSON out) and reading a capture.
//
//   sinsp_common.cpp    crash reports, dying with the parent, errors, capture reading
//   sinsp_exchange.cpp  JSON strings, netstring records, atomic output
//   sinsp_extract.cpp   the `extract` command
//   sinsp_run.cpp       the `run` command (the instrumented harness)
//   sinsp_tool.cpp      main and the command table (sinsp_commands.h)
//
// Constants shared with Python (exchange version, limits, exit codes) are in
// ruleopt_abi.h; histogram cells, the bucket rule and TSC calibration in trace.h.
#ifndef RULEOPT_SINSP_COMMON_H
#define RULEOPT_SINSP_COMMON_H

#include <sinsp.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ruleopt_abi.h"
#include "trace.h"

namespace rsinsp
{

constexpr int EXIT_INPUT = RULEOPT_SINSP_EXIT_INPUT;
constexpr int EXIT_INTERNAL = RULEOPT_SINSP_EXIT_INTERNAL;

// ---------------------------------------------------------------------------
// Progress, for crash reports (sinsp_common.cpp). The main loops record where they
// are in g_progress (plain stores); a signal handler reports it if libsinsp crashes.
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

extern progress g_progress;

void install_crash_handlers();
void die_with_parent();

// ---------------------------------------------------------------------------
// Errors in user input: thrown as input_error, reported by main (report()) as one
// human line and one JSON line on stderr, exit code EXIT_INPUT.
// ---------------------------------------------------------------------------

struct input_error
{
	std::string message;
	std::string file;
	int64_t line = -1;
	int64_t event = -1;
};

[[noreturn]] void fail(const std::string &msg, const std::string &file, int64_t line = -1, int64_t event = -1);
int report(const input_error &e);

// ---------------------------------------------------------------------------
// The exchange (sinsp_exchange.cpp)
// ---------------------------------------------------------------------------

// Appends s as a JSON string; bytes that are not UTF-8 become lone surrogates \udcXX.
void json_string(std::string &out, const char *s, size_t n);
void json_string(std::string &out, const std::string &s);
// Netstrings from a file or "-" (stdin), each record byte for byte.
std::vector<std::string> read_records(const std::string &path, const char *what);
// A trace cell as JSON: {"count": N, "sum": N, "hist": [...]} (the profile's format).
void json_cell(std::string &out, const trace_cell_t &c);
// The document to stdout (out_path empty) or atomically to out_path.
void write_output(const std::string &doc, const std::string &out_path);

// ---------------------------------------------------------------------------
// Captures (sinsp_common.cpp)
// ---------------------------------------------------------------------------

void precheck_capture(const std::string &path);
void open_capture(sinsp &insp, const std::string &path);
// The next event, nullptr at end of file; `cycles` receives the cycles of sinsp::next.
sinsp_evt *next_event(sinsp &insp, const std::string &path, uint64_t last_num, uint64_t *cycles = nullptr);
// libsinsp's type name with the enum's prefix (PT_CHARBUF, PT_UINT64, ...).
std::string type_name(ppm_param_type t);

// Internal events (procinfo, container, ...) are state snapshots written at the
// start of a capture, not syscalls: sysdig does not show them and a live Falco
// never sees the procinfo dump, so by default both subcommands skip them (their
// evt.nums are still consumed, as in sysdig).
inline bool is_internal(sinsp_evt *evt)
{
	return (evt->get_category() & EC_INTERNAL) != 0;
}

// Smallest back-to-back rdtsc difference: the floor under every measured interval.
uint64_t rdtsc_overhead();

}  // namespace rsinsp

#endif  // RULEOPT_SINSP_COMMON_H

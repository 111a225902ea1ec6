// ruleopt-sinsp: field extraction and an instrumented rule harness built on the
// real libsinsp (Debian's falcosecurity-libs, 2022-03) so that ruleopt can check its
// own engine against the code Falco actually runs.
//
//   ruleopt-sinsp version      (the exchange format it speaks)
//   ruleopt-sinsp extract CAPTURE FIELDS [--internal]
//   ruleopt-sinsp run CAPTURE RULES [--repeat N] [--json OUT] [--internal]
//   ruleopt-sinsp checks CAPTURE RULES [...]   (sinsp_checks.cpp)
//   ruleopt-sinsp engine --help                (sinsp_engine.cpp)
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
//
// This file is main and the command table; each command is its own file (see
// sinsp_commands.h for how to add one), the shared parts are in sinsp_common.h.

#include "sinsp_commands.h"
#include "sinsp_common.h"
#include "sinsp_engine.h"

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

// plugin/sinsp_checks.cpp: per-check records for experiments/harness_table.py.
int ruleopt_cmd_checks(const std::vector<std::string> &args);

namespace rsinsp
{

namespace
{

// The dispatch: one row per command, in the order of the usage message.
const command COMMANDS[] = {
	{"version", "", cmd_version},
	{"extract", "CAPTURE FIELDS [--internal]", cmd_extract},
	{"run", "CAPTURE RULES [--repeat N] [--json OUT] [--internal]", cmd_run},
	{"checks", "CAPTURE RULES [--repeat N] [--json OUT] [--rerun-matched] [--matched-only] [--fenced] [--faults]",
	 cmd_checks},
	{"engine", "--help  (strategies on the real engine)", cmd_engine},
};

// The two commands below take their whole argument list, name first.
args with_name(const char *name, const args &a)
{
	args full{name};
	full.insert(full.end(), a.begin(), a.end());
	return full;
}

}  // namespace

int cmd_version(const args &a)
{
	if(!a.empty()) return usage();
	printf("%s\n", RULEOPT_SINSP_EXCHANGE);
	return 0;
}

int cmd_checks(const args &a) { return ruleopt_cmd_checks(with_name("checks", a)); }

int cmd_engine(const args &a) { return ruleopt_tool::cmd_engine(with_name("engine", a)); }

int usage()
{
	const char *lead = "usage:";
	for(const command &c : COMMANDS)
	{
		fprintf(stderr, "%s ruleopt-sinsp %s%s%s\n", lead, c.name, *c.usage ? " " : "", c.usage);
		lead = "      ";
	}
	fprintf(stderr, "FIELDS, RULES: a file or - (stdin) of netstrings <len>:<bytes>, (see the source)\n");
	return EXIT_INPUT;
}

}  // namespace rsinsp

int main(int argc, char **argv)
{
	using namespace rsinsp;
	die_with_parent();
	install_crash_handlers();
	std::vector<std::string> argv_(argv + 1, argv + argc);
	try
	{
		if(argv_.empty()) return usage();
		for(const command &c : COMMANDS)
		{
			if(argv_[0] == c.name) return c.run(args(argv_.begin() + 1, argv_.end()));
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

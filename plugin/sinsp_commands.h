// The commands of ruleopt-sinsp: one function (and one file) each, dispatched by name
// from the table in sinsp_tool.cpp.
//
// To add a command: write sinsp_<name>.cpp defining `int cmd_<name>(const args &a)`
// (a: the arguments after the command's name; return usage() on bad ones, throw
// input_error via fail() for bad input), declare it here and add one row to
// COMMANDS in sinsp_tool.cpp. plugin/Makefile builds every sinsp_*.cpp.
#ifndef RULEOPT_SINSP_COMMANDS_H
#define RULEOPT_SINSP_COMMANDS_H

#include <string>
#include <vector>

namespace rsinsp
{

using args = std::vector<std::string>;

struct command
{
	const char *name;
	const char *usage;  // the arguments, for the usage message
	int (*run)(const args &a);
};

// Prints the usage of every command; returns EXIT_INPUT.
int usage();

int cmd_version(const args &a);  // sinsp_tool.cpp
int cmd_extract(const args &a);  // sinsp_extract.cpp
int cmd_run(const args &a);      // sinsp_run.cpp
int cmd_checks(const args &a);   // sinsp_checks.cpp (per-check records)
int cmd_engine(const args &a);   // sinsp_engine.cpp (strategies on the real engine)

}  // namespace rsinsp

#endif  // RULEOPT_SINSP_COMMANDS_H

// The engine command's per-event cost log (--event-costs FILE): each measured event's
// cycles per stage, in event order, for the rate replay of the real engine (the ring
// model of ring.h, driven from ruleopt/profile/rate.py). The file's layout is defined in
// ruleopt_abi.h (RULEOPT_EVENT_COST_*).
#ifndef RULEOPT_SINSP_EVENT_COSTS_H
#define RULEOPT_SINSP_EVENT_COSTS_H

#include "ruleopt_abi.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ruleopt_tool
{
class event_cost_log
{
public:
	// Off until a path is given; record() is then one branch.
	explicit event_cost_log(std::string path = "") : path_(std::move(path)) {}
	bool enabled() const { return !path_.empty(); }
	// One measured event's stages (cycles), in ruleopt_abi.h's field order.
	void record(uint64_t next, uint64_t index, uint64_t checks, uint64_t output)
	{
		if(path_.empty() || done_) return;
		uint64_t f[RULEOPT_EVENT_COST_FIELDS];
		f[RULEOPT_EVENT_COST_NEXT] = next;
		f[RULEOPT_EVENT_COST_INDEX] = index;
		f[RULEOPT_EVENT_COST_CHECKS] = checks;
		f[RULEOPT_EVENT_COST_OUTPUT] = output;
		for(uint64_t v : f) put(v);
	}
	// The pass is over: later passes are not recorded (the first measured pass is the
	// one a fresh Falco would see).
	void end_pass()
	{
		if(!path_.empty()) done_ = true;
	}
	// Writes the file atomically (write_output); a no-op when off.
	void write() const;

private:
	void put(uint64_t v);
	std::string path_;
	std::string bytes_;
	bool done_ = false;
};
}  // namespace ruleopt_tool

#endif

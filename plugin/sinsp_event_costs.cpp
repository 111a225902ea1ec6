// The engine command's per-event cost log: see sinsp_event_costs.h.
#include "sinsp_event_costs.h"

#include "sinsp_engine.h"

namespace ruleopt_tool
{
static_assert(RULEOPT_EVENT_COST_BYTES >= 1 && RULEOPT_EVENT_COST_BYTES <= 8, "cost width in bytes");

void event_cost_log::put(uint64_t v)
{
	// Little-endian whatever the host, saturated at the field's width.
	constexpr unsigned bits = 8 * RULEOPT_EVENT_COST_BYTES;
	const uint64_t max = bits == 64 ? ~uint64_t(0) : (uint64_t(1) << bits) - 1;
	if(v > max) v = max;
	for(unsigned b = 0; b < RULEOPT_EVENT_COST_BYTES; b++) bytes_.push_back(char((v >> (8 * b)) & 0xff));
}

void event_cost_log::write() const
{
	if(!path_.empty()) write_output(bytes_, path_);
}
}  // namespace ruleopt_tool

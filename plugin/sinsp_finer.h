// Index "finer" of the engine command (sinsp_finer.cpp): ruleopt.engine.finer's decision
// tree on libsinsp, routed by values seen for the first time.
//
// The tree comes from Python (ruleopt/engine/real_finer.py), trained on another workload
// than the one measured, as netstrings (--finer FILE):
//   "ruleopt finer 1", N (nodes), then per node:
//     FIELD ("" for a leaf), K, K x (RULE_ID, CONJUNCT), C, C x (KEY, CHILD)
//   then R, R x (EVT_TYPE_NAME, NODE).
// CONJUNCT is Falco condition text that reads FIELD alone (a top-level conjunct of that
// rule's condition, so the rule is false wherever it is); KEY is the sorted rule ids (space
// separated) of the node's constrained rules whose conjunct holds, the trained child's
// key; CHILD > the node's own index (the tree is in preorder, so no cycle).
//
// Per event: the node's FIELD is extracted through a libsinsp filtercheck and looked up in
// the node's value cache; on a miss (a value not seen before in this pass) the node's
// conjunct filters run on this event, the rules whose conjunct is false leave the node's
// rule list, the trained child with that surviving set continues the walk (a leaf with that
// list if training never saw the set), and the value is cached. A conjunct reads only FIELD
// and libsinsp's comparison of a field depends on its value and the event type only, so
// the cached answer holds for every later event of that type with that value: the tree is
// instantiated per libsinsp event type (enter and exit apart), which is also what makes
// evt.rawarg-style fields, typed per event, safe, and lets a node on evt.dir (one value
// per event type) route without extracting once it has met its value. Every rule the walk keeps is checked in
// load order, so the first match and the set of matches are the evttype index's.
//
// Nothing here can make a rule match that libsinsp's own filter does not: a rule leaves
// only when its conjunct evaluated false; a conjunct that fails to compile or throws, a
// field that fails to extract, leaves the rule in (and is counted).
//
// A node whose values are mostly new (more than half of its first 64+ lookups missed, as
// on evt.num) switches to direct mode: no extraction, no cache; its distinct conjuncts run
// on every event and the set of those that failed picks the child.
#ifndef RULEOPT_SINSP_FINER_H
#define RULEOPT_SINSP_FINER_H

#include <sinsp.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

class sinsp_filter;
class sinsp_filter_check;

namespace ruleopt_tool
{

// The tree as read from the file (no libsinsp objects: shared by every pass).
struct finer_template
{
	struct node
	{
		std::string field;                                     // empty: leaf
		std::vector<std::pair<int64_t, std::string>> conjuncts;  // rule id, condition text
		std::vector<std::pair<std::string, int>> children;     // surviving-set key, node
	};
	std::vector<node> nodes;
	std::vector<std::pair<std::string, int>> roots;  // evt.type name, node
};

// Reads and checks the file; `rule_ids` are the rules list's ids (a tree naming another
// rule is refused).
finer_template read_finer(const std::string &path, const std::vector<int64_t> &rule_ids);

// Per-pass counters, reported in the engine's JSON.
struct finer_counts
{
	uint64_t extractions = 0;      // field extractions (one per node visited)
	uint64_t misses = 0;           // values not yet in the node's cache
	uint64_t conjunct_evals = 0;   // conjunct filters run (on misses only)
	uint64_t conjunct_errors = 0;  // conjuncts that threw (the rule stayed in)
	uint64_t extract_errors = 0;   // extractions that threw (every rule of the node stayed in)
	uint64_t instances = 0;        // tree nodes instantiated during the pass
	// Where the index stage's cycles went (rdtsc, inside the stage): the extractions, and
	// the misses (conjunct filters, forming the child, caching); the rest is the walk and
	// the cache lookups.
	uint64_t extract_cycles = 0;
	uint64_t miss_cycles = 0;
	// Events a direct-mode node routed by running its conjuncts (no extraction, no cache),
	// and their cycles.
	uint64_t direct_events = 0;
	uint64_t direct_cycles = 0;
};

// The index of one pass: its filterchecks and conjunct filters belong to `insp`.
class finer_index
{
public:
	// `slot_of_id[k]`: rule id -> slot via rule_ids; `usable[slot]`: the rule compiled.
	finer_index(sinsp &insp, const finer_template &t, const std::vector<int64_t> &rule_ids,
		    const std::vector<std::vector<uint32_t>> &by_type);
	~finer_index();

	// The rules to check on `evt`, in load order.
	const std::vector<uint32_t> &route(sinsp_evt *evt);

	finer_counts counts;
	// Load-time problems (a conjunct libsinsp rejects, a field it does not know): the
	// affected rule is unconstrained there, the node a leaf.
	std::vector<std::string> load_errors;
	size_t conjunct_filters = 0;  // compiled at load

	struct inode;

private:
	struct tnode;
	inode *instantiate(int tmpl, std::vector<uint32_t> rules);
	inode *descend(inode *n, sinsp_evt *evt);
	uint64_t evaluate(inode *n, tnode &tn, sinsp_evt *evt);
	inode *child_for(inode *n, tnode &tn);

	const std::vector<int64_t> &m_ids;
	std::vector<std::unique_ptr<tnode>> m_tnodes;
	std::deque<inode> m_inodes;
	std::vector<inode *> m_roots;  // by libsinsp event type
	std::vector<uint32_t> m_none;
	std::vector<int8_t> m_memo;  // per distinct conjunct of a node: -1 not run, 0/1 its answer
	std::vector<char> m_failed;  // per constrained rule of a node: its conjunct was false
};

}  // namespace ruleopt_tool

#endif

// Index "finer" of the engine command: see sinsp_finer.h for the tree and its semantics.

#include "sinsp_finer.h"
#include "sinsp_engine.h"

#include <filter.h>
#include <filter_check_list.h>
#include <filterchecks.h>

#include <x86intrin.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

namespace ruleopt_tool
{
namespace
{

constexpr const char *FINER_FORMAT = RULEOPT_FINER_FORMAT;
// Distinct values one node caches; beyond it a new value is evaluated every time (still
// correct, counted as a miss), so an unbounded field (fd.name) cannot exhaust memory.
constexpr size_t MAX_CACHED_VALUES = 1 << 16;
// Lookups a node makes before it may switch to direct mode (more than half of them misses).
constexpr uint64_t DIRECT_AFTER = 64;
// Direct mode routes by a 64-bit mask of failed conjuncts: a node with more constrained
// rules than this keeps its cache.
constexpr size_t MAX_DIRECT_CONJUNCTS = 64;

// The field's type after parsing: for evt.rawarg.X libsinsp keeps it in the check's own
// copy of the field info (m_field), not in the static table.
struct field_peek : sinsp_filter_check
{
	static const filtercheck_field_info *field(sinsp_filter_check *c)
	{
		return c->*(&field_peek::m_field);
	}
};

// Bytes of one extracted value of type t (libsinsp does not set *len for most types):
// 0 = a NUL-terminated string, -1 = take extract()'s *len, -2 = a type this index refuses.
int value_size(ppm_param_type t)
{
	switch(t)
	{
	case PT_INT8:
	case PT_UINT8:
	case PT_FLAGS8:
	case PT_SIGTYPE: return 1;
	case PT_INT16:
	case PT_UINT16:
	case PT_FLAGS16:
	case PT_PORT:
	case PT_SYSCALLID: return 2;
	case PT_INT32:
	case PT_UINT32:
	case PT_FLAGS32:
	case PT_MODE:
	case PT_UID:
	case PT_GID:
	case PT_BOOL:
	case PT_IPV4ADDR: return 4;
	case PT_INT64:
	case PT_UINT64:
	case PT_FD:
	case PT_PID:
	case PT_ERRNO:
	case PT_RELTIME:
	case PT_ABSTIME:
	case PT_DOUBLE:
	case PT_IPV4NET: return 8;
	case PT_IPV6ADDR: return 16;
	case PT_CHARBUF:
	case PT_FSPATH:
	case PT_FSRELPATH: return 0;
	case PT_BYTEBUF:
	case PT_IPADDR:
	case PT_IPNET:
	case PT_IPV6NET: return -1;
	default: return -2;
	}
}

// The value's hash: FNV-1a, then a 64-bit finaliser so the low bits index the table.
inline uint64_t value_hash(bool present, const uint8_t *v, size_t n)
{
	uint64_t h = present ? 0xcbf29ce484222325ULL : 0x84222325cbf29ce4ULL;
	for(size_t i = 0; i < n; i++) h = (h ^ v[i]) * 0x100000001b3ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

int parse_int(const std::string &s, const std::string &what, const std::string &where, int64_t lo, int64_t hi)
{
	char *end = nullptr;
	errno = 0;
	long long v = s.empty() ? 0 : strtoll(s.c_str(), &end, 10);
	if(s.empty() || end != s.c_str() + s.size() || errno != 0 || v < lo || v > hi)
	{
		fail("finer tree: " + what + " '" + s + "' is not an integer in " + std::to_string(lo) + ".." +
			     std::to_string(hi),
		     where);
	}
	return (int)v;
}

}  // namespace

finer_template read_finer(const std::string &path, const std::vector<int64_t> &rule_ids)
{
	auto recs = read_records(path, "finer tree");
	const std::string where = path;
	size_t at = 0;
	auto next = [&](const char *what) -> const std::string & {
		if(at >= recs.size()) fail(std::string("finer tree: ends before ") + what, where);
		return recs[at++];
	};
	if(next("its header") != FINER_FORMAT)
	{
		fail(std::string("finer tree: not a '") + FINER_FORMAT + "' file", where);
	}
	std::set<int64_t> ids(rule_ids.begin(), rule_ids.end());
	finer_template t;
	int n = parse_int(next("the node count"), "node count", where, 0, 1 << 22);
	t.nodes.resize(n);
	for(int i = 0; i < n; i++)
	{
		finer_template::node &nd = t.nodes[i];
		const std::string ctx = " (node " + std::to_string(i) + ")";
		nd.field = next("a node's field");
		int k = parse_int(next("a conjunct count"), "conjunct count" + ctx, where, 0, 1 << 16);
		for(int j = 0; j < k; j++)
		{
			int64_t id = parse_int(next("a rule id"), "rule id" + ctx, where, 0, INT32_MAX);
			if(!ids.count(id)) fail("finer tree: rule id " + std::to_string(id) + " is not in the rules list" + ctx, where);
			nd.conjuncts.emplace_back(id, next("a conjunct"));
		}
		int c = parse_int(next("a child count"), "child count" + ctx, where, 0, 1 << 20);
		for(int j = 0; j < c; j++)
		{
			std::string key = next("a child key");
			int child = parse_int(next("a child index"), "child index" + ctx, where, i + 1, n - 1);
			nd.children.emplace_back(std::move(key), child);
		}
		if(nd.field.empty() && (k || c)) fail("finer tree: a leaf with conjuncts or children" + ctx, where);
	}
	int r = parse_int(next("the root count"), "root count", where, 0, 1 << 16);
	for(int j = 0; j < r; j++)
	{
		std::string name = next("a root's event type");
		int node = parse_int(next("a root's node"), "root node", where, 0, n - 1);
		t.roots.emplace_back(std::move(name), node);
	}
	if(at != recs.size()) fail("finer tree: " + std::to_string(recs.size() - at) + " records after the roots", where);
	return t;
}

// A field no value cache may be keyed by (RULEOPT_FINER_UNCACHEABLE in ruleopt_abi.h says
// which and why); a tree naming one gets a leaf there.
bool uncacheable(const std::string &field)
{
	static const std::set<std::string> fields = [] {
		std::set<std::string> out;
		std::istringstream in(RULEOPT_FINER_UNCACHEABLE);
		for(std::string f; in >> f;) out.insert(f);
		return out;
	}();
	return fields.count(field) != 0;
}

// Fields whose value is a function of the libsinsp event type alone (evt.dir: enter or
// exit, PPME_IS_ENTER): a node on one of them, instantiated per event type, meets one
// value, so after its first event it routes without extracting.
bool fixed_per_event_type(const std::string &field)
{
	return field == "evt.dir";
}

struct finer_index::tnode
{
	std::unique_ptr<sinsp_filter_check> chk;  // null: used as a leaf
	int size = -2;                            // value_size of the field's type
	bool fixed = false;                       // fixed_per_event_type
	// The distinct conjuncts (expanded macros repeat them across rules: `evt.num = 0`,
	// `fd.typechar = f`), each compiled once, and per constrained rule its filter's index.
	std::vector<std::unique_ptr<sinsp_filter>> filters;
	std::vector<std::pair<uint32_t, uint32_t>> conj;  // slot, filter index
	std::unordered_map<std::string, int> child_by_key;
};

// A node's value -> child cache: open addressing over the extracted bytes, looked up
// without copying them (the walk does this on every event at every node it visits).
struct value_cache
{
	struct slot
	{
		uint64_t hash = 0;
		bool present = false;
		std::string bytes;
		finer_index::inode *child = nullptr;  // null: an empty slot
	};
	std::vector<slot> slots;
	size_t used = 0;

	finer_index::inode *find(uint64_t h, bool present, const uint8_t *v, size_t n) const
	{
		if(slots.empty()) return nullptr;
		size_t mask = slots.size() - 1;
		for(size_t i = h & mask;; i = (i + 1) & mask)
		{
			const slot &s = slots[i];
			if(s.child == nullptr) return nullptr;
			if(s.hash == h && s.present == present && s.bytes.size() == n &&
			   (n == 0 || memcmp(s.bytes.data(), v, n) == 0))
			{
				return s.child;
			}
		}
	}

	void insert(uint64_t h, bool present, const uint8_t *v, size_t n, finer_index::inode *child)
	{
		if((used + 1) * 2 > slots.size())
		{
			std::vector<slot> old;
			old.swap(slots);
			slots.resize(old.empty() ? 16 : old.size() * 2);
			for(slot &s : old)
			{
				if(s.child != nullptr) place(std::move(s));
			}
		}
		slot s;
		s.hash = h;
		s.present = present;
		s.bytes.assign((const char *)v, n);
		s.child = child;
		place(std::move(s));
		used++;
	}

	void place(slot &&s)
	{
		size_t mask = slots.size() - 1;
		size_t i = s.hash & mask;
		while(slots[i].child != nullptr) i = (i + 1) & mask;
		slots[i] = std::move(s);
	}
};

struct finer_index::inode
{
	int tmpl = -1;  // -1: a leaf
	inode *fixed_child = nullptr;  // a fixed_per_event_type node once it met its value
	std::vector<uint32_t> rules;
	std::vector<std::pair<uint32_t, uint32_t>> conj;  // the template's, for rules here
	value_cache cache;                                 // value -> child
	std::unordered_map<std::string, inode *> by_set;   // surviving set -> child
	// Direct mode: a node whose values are mostly new (evt.num) stops extracting and
	// caching and runs its distinct conjuncts on every event instead, routed by which of
	// them failed (a bit per conjunct of `conj`, at most 64).
	bool direct = false;
	uint64_t lookups = 0, node_misses = 0;
	std::unordered_map<uint64_t, inode *> by_mask;
};

finer_index::finer_index(sinsp &insp, const finer_template &t, const std::vector<int64_t> &rule_ids,
			 const std::vector<std::vector<uint32_t>> &by_type)
	: m_ids(rule_ids), m_roots(by_type.size(), nullptr)
{
	std::map<int64_t, uint32_t> slot_of;
	for(size_t s = 0; s < rule_ids.size(); s++) slot_of[rule_ids[s]] = (uint32_t)s;
	for(size_t i = 0; i < t.nodes.size(); i++)
	{
		const finer_template::node &nd = t.nodes[i];
		auto tn = std::make_unique<tnode>();
		tn->fixed = fixed_per_event_type(nd.field);
		tn->child_by_key.insert(nd.children.begin(), nd.children.end());
		if(!nd.field.empty())
		{
			std::string err;
			if(uncacheable(nd.field)) err = "its comparison reads more than one extracted value";
			else try
			{
				sinsp_filter_check *c = g_filterlist.new_filter_check_from_fldname(nd.field, &insp, true);
				if(c == nullptr) err = "no such field";
				else
				{
					tn->chk.reset(c);
					int32_t parsed = c->parse_field_name(nd.field.c_str(), true, true);
					if(parsed != (int32_t)nd.field.size()) err = "field name parsed only in part";
					else
					{
						tn->size = value_size(field_peek::field(c)->m_type);
						if(tn->size == -2) err = "a field of this type cannot key a cache";
					}
				}
			}
			catch(const std::exception &e)
			{
				err = e.what();
			}
			if(!err.empty())
			{
				load_errors.push_back("field '" + nd.field + "': " + err);
				tn->chk.reset();
			}
		}
		if(tn->chk)
		{
			std::map<std::string, uint32_t> filter_of;
			for(const auto &[id, text] : nd.conjuncts)
			{
				try
				{
					auto known = filter_of.find(text);
					if(known == filter_of.end())
					{
						sinsp_filter_compiler compiler(&insp, text);
						tn->filters.emplace_back(compiler.compile());
						known = filter_of.emplace(text, (uint32_t)tn->filters.size() - 1).first;
						conjunct_filters++;
					}
					tn->conj.emplace_back(slot_of.at(id), known->second);
				}
				catch(const std::exception &e)
				{
					load_errors.push_back("rule " + std::to_string(id) + ": conjunct '" + text +
							      "' rejected by libsinsp: " + e.what());
				}
			}
		}
		if(tn->filters.size() > m_memo.size()) m_memo.resize(tn->filters.size());
		m_tnodes.push_back(std::move(tn));
	}
	// Roots by libsinsp event type, through the event table's names (enter and exit share
	// a name; an event type the tree has no root for keeps its whole evttype bucket).
	std::map<std::string, int> root_of(t.roots.begin(), t.roots.end());
	const ppm_event_info *info = scap_get_event_info_table();
	for(size_t et = 0; et < by_type.size(); et++)
	{
		if(by_type[et].empty()) continue;
		auto it = root_of.find(info[et].name);
		m_roots[et] = instantiate(it == root_of.end() ? -1 : it->second, by_type[et]);
	}
	counts = finer_counts();  // what the pass does, not the load
}

finer_index::~finer_index() = default;

finer_index::inode *finer_index::instantiate(int tmpl, std::vector<uint32_t> rules)
{
	m_inodes.emplace_back();
	inode *n = &m_inodes.back();
	counts.instances++;
	n->rules = std::move(rules);
	if(tmpl >= 0 && m_tnodes[tmpl]->chk)
	{
		for(auto &[slot, fi] : m_tnodes[tmpl]->conj)
		{
			if(std::binary_search(n->rules.begin(), n->rules.end(), slot)) n->conj.emplace_back(slot, fi);
		}
		// A node none of whose rules is constrained here routes nothing: a leaf.
		if(!n->conj.empty()) n->tmpl = tmpl;
	}
	return n;
}

// Runs the distinct conjuncts of `n` on `evt`: m_failed[k] is set when the conjunct of
// n->conj[k] is false (that rule leaves); the result has bit k of it for k < 64 (direct
// mode's key; a direct node has at most 64). A conjunct that throws keeps its rule.
uint64_t finer_index::evaluate(inode *n, tnode &tn, sinsp_evt *evt)
{
	std::fill(m_memo.begin(), m_memo.begin() + tn.filters.size(), (int8_t)-1);
	m_failed.assign(n->conj.size(), 0);
	uint64_t failed = 0;
	for(size_t k = 0; k < n->conj.size(); k++)
	{
		auto [slot, fi] = n->conj[k];
		if(m_memo[fi] < 0)
		{
			counts.conjunct_evals++;
			progress_filter(m_ids[slot]);
			bool ok = true;
			try
			{
				ok = tn.filters[fi]->run(evt);
			}
			catch(const std::exception &)
			{
				counts.conjunct_errors++;  // kept: its full check decides (and reports)
			}
			m_memo[fi] = ok ? 1 : 0;
		}
		if(m_memo[fi] == 0)
		{
			m_failed[k] = 1;
			if(k < 64) failed |= uint64_t(1) << k;
		}
	}
	return failed;
}

// The child of `n` for the rules that leave (m_failed, as the last evaluate() left it):
// the trained child with that surviving set, or a leaf; one instance per set.
finer_index::inode *finer_index::child_for(inode *n, tnode &tn)
{
	std::vector<int64_t> survivors;
	std::vector<uint32_t> dropped;
	for(size_t k = 0; k < n->conj.size(); k++)
	{
		uint32_t slot = n->conj[k].first;
		if(m_failed[k]) dropped.push_back(slot);
		else survivors.push_back(m_ids[slot]);
	}
	std::sort(survivors.begin(), survivors.end());
	std::string set;
	for(size_t k = 0; k < survivors.size(); k++)
	{
		if(k) set += ' ';
		set += std::to_string(survivors[k]);
	}
	auto known = n->by_set.find(set);
	if(known != n->by_set.end()) return known->second;
	std::vector<uint32_t> rules;
	rules.reserve(n->rules.size() - dropped.size());
	std::sort(dropped.begin(), dropped.end());
	for(uint32_t s : n->rules)
	{
		if(!std::binary_search(dropped.begin(), dropped.end(), s)) rules.push_back(s);
	}
	auto trained = tn.child_by_key.find(set);
	inode *child = instantiate(trained == tn.child_by_key.end() ? -1 : trained->second, std::move(rules));
	n->by_set.emplace(std::move(set), child);
	return child;
}

// The child of `n` for `evt`, or nullptr when the field cannot be extracted (then the
// node's rules are the bucket).
finer_index::inode *finer_index::descend(inode *n, sinsp_evt *evt)
{
	tnode &tn = *m_tnodes[n->tmpl];
	if(n->direct)
	{
		counts.direct_events++;
		uint64_t d0 = __rdtsc();
		uint64_t failed = evaluate(n, tn, evt);
		auto it = n->by_mask.find(failed);
		inode *child = it != n->by_mask.end() ? it->second : n->by_mask.emplace(failed, child_for(n, tn)).first->second;
		counts.direct_cycles += __rdtsc() - d0;
		return child;
	}
	counts.extractions++;
	n->lookups++;
	uint32_t len = 0;
	uint8_t *v;
	uint64_t t0 = __rdtsc();
	try
	{
		// Raw bytes (no sanitising): they determine whatever a comparison sees, the
		// sanitised string included.
		v = tn.chk->extract(evt, &len, false);
	}
	catch(const std::exception &)
	{
		counts.extract_errors++;
		return nullptr;
	}
	counts.extract_cycles += __rdtsc() - t0;
	// The key: absent (its own key) or the value's bytes.
	const bool present = v != nullptr;
	size_t nb = !present ? 0 : tn.size > 0 ? (size_t)tn.size : tn.size == 0 ? strlen((const char *)v) : len;
	uint64_t h = value_hash(present, v, nb);
	if(inode *hit = n->cache.find(h, present, v, nb)) return hit;
	counts.misses++;
	n->node_misses++;
	uint64_t m0 = __rdtsc();
	// First sight of this value at this node: its conjuncts decide which rules stay.
	evaluate(n, tn, evt);
	inode *child = child_for(n, tn);
	// `v` is still this event's value: it lives in this node's own filtercheck (or in the
	// event's thread/fd state), which the conjuncts' separate filterchecks do not touch.
	if(n->cache.used < MAX_CACHED_VALUES) n->cache.insert(h, present, v, nb, child);
	if(tn.fixed) n->fixed_child = child;
	// Mostly new values: caching them costs an extraction and a miss per event for
	// nothing; from here on the node runs its conjuncts directly.
	if(!tn.fixed && n->conj.size() <= MAX_DIRECT_CONJUNCTS && n->lookups >= DIRECT_AFTER && n->node_misses * 2 > n->lookups) n->direct = true;
	counts.miss_cycles += __rdtsc() - m0;
	return child;
}

const std::vector<uint32_t> &finer_index::route(sinsp_evt *evt)
{
	uint16_t et = evt->get_type();
	inode *n = et < m_roots.size() ? m_roots[et] : nullptr;
	if(n == nullptr) return m_none;
	while(n->tmpl >= 0)
	{
		if(n->fixed_child != nullptr)
		{
			n = n->fixed_child;
			continue;
		}
		inode *child = descend(n, evt);
		if(child == nullptr) break;
		n = child;
	}
	return n->rules;
}

}  // namespace ruleopt_tool

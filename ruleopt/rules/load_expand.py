"""Macro and list expansion, a pass over the AST (as Falco expands macros in the AST):
macros inlined, list names in value lists replaced by their items, memoised and without
recursion; and the bounds on what expansion may build (depth, nodes, list items)."""

from __future__ import annotations

from typing import Protocol

from ruleopt.errors import RuleoptError
from ruleopt.rules.ast import And, Compare, Expr, ListRef, MacroRef, Not, Or, Value, ValueList
from ruleopt.rules.load_collector import ListInfo, MacroInfo, SkipItem
from ruleopt.rules.load_positions import Cond


class Host(Protocol):
    """What the expander needs from the compiler that drives it."""

    macros: dict[str, MacroInfo]
    lists: dict[str, ListInfo]

    def fail(self, err: RuleoptError) -> None: ...

    def locate_name(self, cond: Cond, word: str) -> tuple[str, int, int]: ...


# Expanded conditions are DAGs (a macro used twice is one shared subtree), but every
# consumer walks them as trees; past this size, walking them takes minutes.
MAX_CONDITION_NODES = 200_000


def tree_size(expr: Expr) -> int:
    """Node count of ``expr`` as a tree, plus the values of its value lists (every tree
    consumer walks those too), computed over the shared DAG in linear time and without
    recursion."""
    memo: dict[int, int] = {}
    todo: list[tuple[Expr, bool]] = [(expr, False)]
    while todo:
        e, kids_done = todo.pop()
        key = id(e)
        if key in memo:
            continue
        kids = children(e)
        if kids_done or not kids:
            own = len(e.rhs.items) if isinstance(e, Compare) and isinstance(e.rhs, ValueList) else 0
            memo[key] = 1 + own + sum(memo[id(k)] for k in kids)
            continue
        todo.append((e, True))
        todo.extend((k, False) for k in kids if id(k) not in memo)
    return memo[id(expr)]


def children(e: Expr) -> tuple[Expr, ...]:
    if isinstance(e, (And, Or)):
        return e.items
    if isinstance(e, Not):
        return (e.operand,)
    return ()


# Expanded conditions nest at most this deep: every consumer (printer, evaluator,
# compiler, evttype resolver) walks them recursively. Real rules nest a few dozen levels.
MAX_CONDITION_DEPTH = 1000


def ast_depths(expr: Expr) -> tuple[int, list[tuple[str, int]]]:
    """Depth of ``expr``'s tree and every macro reference with the depth it sits at."""
    best, refs = 0, []
    todo: list[tuple[Expr, int]] = [(expr, 1)]
    while todo:
        e, d = todo.pop()
        best = max(best, d)
        if isinstance(e, MacroRef):
            refs.append((e.name, d))
        todo.extend((k, d + 1) for k in children(e))
    return best, refs


def expanded_depth(own: int, refs: list[tuple[str, int]], depth: dict[str, int]) -> int:
    # A reference at depth d is replaced by a tree of depth depth[ref]: d - 1 + that.
    return max([own] + [d - 1 + depth.get(r, 1) for r, d in refs])


def macro_chain(name: str, refs: dict[str, list[tuple[str, int]]], depth: dict[str, int]) -> str:
    """The macro chain that makes ``name`` deep, deepest reference first, shortened."""
    chain = [name]
    while len(chain) <= MAX_CONDITION_DEPTH + 1:
        nxt = max(
            refs.get(chain[-1], ()), key=lambda rd: rd[1] - 1 + depth.get(rd[0], 1), default=None
        )
        if nxt is None or nxt[0] not in depth or nxt[0] in chain:
            break
        chain.append(nxt[0])
    if len(chain) > 6:
        return (
            " -> ".join(chain[:3])
            + f" -> ... ({len(chain) - 5} more) -> "
            + " -> ".join(chain[-2:])
        )
    return " -> ".join(chain)


def macro_refs(expr: Expr) -> list[str]:
    """Macro names ``expr`` uses, in order of first use (iteratively: any depth)."""
    seen: dict[str, None] = {}
    todo = [expr]
    while todo:
        node = todo.pop()
        if isinstance(node, MacroRef):
            seen.setdefault(node.name, None)
        todo.extend(reversed(children(node)))
    return list(seen)


def unquote(text: str) -> str:
    """A list item as the condition parser would read it once substituted into the text:
    an item written with quotes is a quoted literal, anything else is taken verbatim."""
    if len(text) >= 2 and text[0] in "\"'" and text[-1] == text[0]:
        from ruleopt.rules.parser import unescape  # lark only when parsing: see Compiler.parse

        try:
            return unescape(text)
        except ValueError:
            return text[1:-1]
    return text


class Expander:
    """Inlines macros and lists, memoised; detects cycles."""

    def __init__(self, loader: Host, macro_asts: dict[str, Expr]) -> None:
        self.loader = loader
        self.macro_asts = macro_asts
        self.macro_done: dict[str, Expr] = {}
        self.depth: dict[str, int] = {}  # expanded depth per macro (Loader.macro_order)
        self.list_done: dict[str, tuple[Value, ...]] = {}
        self.list_failed: set[str] = set()
        self.built_items = 0

    def macro(self, name: str, stack: tuple[str, ...]) -> Expr:
        if name in self.macro_done:
            return self.macro_done[name]
        info = self.loader.macros[name]
        if name in stack:
            cycle = " -> ".join(stack[stack.index(name) :] + (name,))
            self.loader.fail(
                RuleoptError(
                    f"macro '{name}': circular macro reference {cycle}",
                    file=info.file,
                    line=info.node.start_mark.line + 1,
                    column=info.node.start_mark.column + 1,
                    hint="a macro cannot use itself, directly or through other macros",
                )
            )
        if name not in self.macro_asts:
            # Its definition failed already (collect mode); skip whoever uses it.
            raise SkipItem
        out = self.expand(self.macro_asts[name], stack + (name,), info.cond, f"macro '{name}'")
        self.macro_done[name] = out
        return out

    def expand(self, expr: Expr, stack: tuple[str, ...], cond: Cond, who: str) -> Expr:
        if isinstance(expr, MacroRef):
            if expr.name not in self.loader.macros:
                file, line, col = self.loader.locate_name(cond, expr.name)
                self.loader.fail(
                    RuleoptError(
                        f"{who}: undefined macro '{expr.name}'",
                        file=file,
                        line=line,
                        column=col,
                        hint=f"define `- macro: {expr.name}` earlier, or check the spelling",
                    )
                )
            return self.macro(expr.name, stack)
        if isinstance(expr, Not):
            inner = self.expand(expr.operand, stack, cond, who)
            return expr if inner is expr.operand else Not(inner)
        if isinstance(expr, (And, Or)):
            items = tuple(self.expand(i, stack, cond, who) for i in expr.items)
            if all(a is b for a, b in zip(items, expr.items, strict=True)):
                return expr
            return type(expr)(items)
        if isinstance(expr, Compare) and isinstance(expr.rhs, ValueList):
            if any(isinstance(i, ListRef) for i in expr.rhs.items):
                values: list[Value] = []
                for item in expr.rhs.items:
                    if isinstance(item, ListRef):
                        values.extend(self.list_values(item.name, (), who))
                    else:
                        values.append(item)
                return Compare(expr.lhs, expr.op, ValueList(tuple(values)))
        return expr

    def list_values(self, name: str, stack: tuple[str, ...], who: str) -> tuple[Value, ...]:
        """A bare word in a value list: a list's items (recursively), or itself."""
        info = self.loader.lists.get(name)
        if info is None:
            return (Value(name),)
        if name not in self.list_done:
            self.expand_list(name)
        return self.list_done[name]

    def expand_list(self, root: str) -> None:
        """Expand ``root`` without recursion, in time linear in the lists and the items
        built: sizes first (an exponential list is refused before anything is built),
        then the items of ``root`` and of the lists named more than once (kept for
        reuse); a list named once is walked in place, so a 30,000-list chain builds one
        30,000-item tuple, not 30,000 of them."""
        lists = self.loader.lists
        sizes: dict[str, int] = {}
        uses: dict[str, int] = {}
        order: list[str] = []
        path, iters = [root], [iter(lists[root].items)]
        on_path = {root}
        while path:
            item = next(iters[-1], None)
            if item is None:
                done = path.pop()
                iters.pop()
                on_path.discard(done)
                sizes[done] = sum(self._size(i, sizes) for i in lists[done].items)
                order.append(done)
                if sizes[done] > MAX_LIST_ITEMS:
                    self._list_fail(
                        done,
                        f"list '{done}' expands to {sizes[done]:,} items "
                        f"(more than {MAX_LIST_ITEMS:,})",
                        "a list that names another list twice per level "
                        "doubles at every level; list each item once",
                    )
                continue
            if item not in lists or item in self.list_done:
                continue
            if item in self.list_failed:
                raise SkipItem
            uses[item] = uses.get(item, 0) + 1
            if item in sizes:
                continue
            if item in on_path:
                cycle = path[path.index(item) :] + [item]
                self.list_failed.update(cycle[:-1])
                self._list_fail(
                    item,
                    f"list '{item}': circular list reference {' -> '.join(cycle)}",
                    "a list cannot contain itself, directly or through other lists",
                )
            path.append(item)
            iters.append(iter(lists[item].items))
            on_path.add(item)
        for name in order:  # dependencies first
            if name == root or uses.get(name, 0) > 1:
                self.built_items += sizes[name]
                if self.built_items > MAX_EXPANDED_ITEMS:
                    self._list_fail(
                        name,
                        f"list '{name}': expanding the lists builds more "
                        f"than {MAX_EXPANDED_ITEMS:,} items in all",
                        "many large lists that name each other; merge them",
                    )
                self.list_done[name] = self._flatten(name)

    def _size(self, item: str, sizes: dict[str, int]) -> int:
        if item not in self.loader.lists:
            return 1
        done = self.list_done.get(item)
        return len(done) if done is not None else sizes[item]

    def _flatten(self, name: str) -> tuple[Value, ...]:
        """``name``'s items, walking unexpanded lists in place (each is named once)."""
        lists = self.loader.lists
        out: list[Value] = []
        iters = [iter(lists[name].items)]
        while iters:
            item = next(iters[-1], None)
            if item is None:
                iters.pop()
            elif item not in lists:
                out.append(Value(unquote(item)))
            elif item in self.list_done:
                out.extend(self.list_done[item])
            else:
                iters.append(iter(lists[item].items))
        return tuple(out)

    def _list_fail(self, name: str, message: str, hint: str) -> None:
        self.list_failed.add(name)
        li = self.loader.lists[name]
        self.loader.fail(
            RuleoptError(
                message,
                file=li.file,
                line=li.node.start_mark.line + 1,
                column=li.node.start_mark.column + 1,
                hint=hint,
            )
        )


# Items of one list once the lists it names are expanded; far past any real list.
MAX_LIST_ITEMS = 200_000
# Items built for all expanded lists of one load.
MAX_EXPANDED_ITEMS = 5_000_000

"""Proven rewrites of Falco conditions and the ``ruleopt optimize`` pipeline.

``rules``: each rewrite a small function over the one AST with its equivalence argument;
``cost``: the static cost model and measured pass rates that order operands;
``expand``: a rule's own condition expanded against a loaded ruleset (for measuring);
``yamlout``: the rules file rewritten node by node with a real YAML emitter;
``diff``: two rulesets on the same events, rule by rule (reference and libsinsp);
``optimize``: the whole pass, which keeps only rewrites it can prove.
"""

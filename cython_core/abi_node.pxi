# The node layout and the ABI digest, exported to Python by every module that includes
# this (abi.pyx, and each core build through core_impl.pxi), so a test and
# ruleopt.engine.core can check that all of them were compiled from the same header.
#
# NODE_DTYPE is built the way scikit-learn's _tree.pyx builds NODE_DTYPE: names from the
# struct's members, offsets with offsetof (&(<Node*> NULL).member), sizes with sizeof, and
# the struct's own sizeof as itemsize. Python fills node arrays by field name through this
# dtype, so their layout is the C struct's by construction.

from abi cimport Node


cdef extern from "ruleopt_abi.h":
    # Set by setup.py: a digest of the ABI headers, one value per build of them.
    const char* _ABI_DIGEST "RULEOPT_ABI_DIGEST"


def _node_dtype():
    cdef Node n
    members = [
        ("kind", <Py_ssize_t> &(<Node*> NULL).kind, sizeof(n.kind)),
        ("op", <Py_ssize_t> &(<Node*> NULL).op, sizeof(n.op)),
        ("col", <Py_ssize_t> &(<Node*> NULL).col, sizeof(n.col)),
        ("all", <Py_ssize_t> &(<Node*> NULL).all, sizeof(n.all)),
        ("a", <Py_ssize_t> &(<Node*> NULL).a, sizeof(n.a)),
        ("b", <Py_ssize_t> &(<Node*> NULL).b, sizeof(n.b)),
        ("child", <Py_ssize_t> &(<Node*> NULL).child, sizeof(n.child)),
        ("nchild", <Py_ssize_t> &(<Node*> NULL).nchild, sizeof(n.nchild)),
    ]
    members.sort(key=lambda m: m[1])  # struct order
    return np.dtype({
        "names": [m[0] for m in members],
        # Every member is a signed integer of the C type's width.
        "formats": [np.dtype(f"=i{m[2]}") for m in members],
        "offsets": [m[1] for m in members],
        "itemsize": sizeof(Node),
    })


NODE_DTYPE = _node_dtype()
ABI_DIGEST = _ABI_DIGEST.decode("ascii")

"""Cheap in-process canonical forms: exact keys and numeric fingerprints.

`exact_key(node)` evaluates an expression tree to a canonical polynomial
with rational coefficients over the generators π, variables, square roots
of square-free integers and the imaginary unit (i² = -1). Such
polynomials are equal exactly when the expressions are, so the key can be
hashed: `\\frac{\\sqrt3}{2}`, `\\sqrt3/2` and `0.5\\sqrt{3}` share one key,
and so do `2^{10}` and `1024`. Anything outside that class (trigonometry,
logs, fractional powers of non-squares, division by a sum, sums and
products `\\sum_{k=a}^{b}`) becomes an opaque generator, so the key
stays sound but may miss an equivalence; those pairs go to sympy (except
sums and products, which are never evaluated).

`fingerprint(node)` evaluates the tree in complex floating point at a few
fixed points. Different fingerprints prove two answers different (up to
the tolerance) without sympy; equal ones only make a pair a candidate.
Every computation here is bounded: big exponents, huge factorials and
oversized numbers raise `TooBig`, and so does exceeding `MAX_WORK` units
of arithmetic in one `exact_key` call (a deterministic budget, so the
same answer always gets the same key, whatever the machine's load).
"""

import cmath
import functools
import math
import threading
import zlib
from fractions import Fraction

# Exact arithmetic refuses numbers above this many bits, polynomials with
# more terms, and integer exponents beyond this magnitude.
MAX_BITS = 2048
MAX_TERMS = 256
MAX_EXPONENT = 4096
MAX_FACTORIAL = 300
# Arithmetic budget of one exact key: a term product or sum costs one unit
# per 64 bits of its operands, a trial division one unit. It bounds the
# worst answer to tens of milliseconds; real answers use a few hundred.
MAX_WORK = 20_000
# Square-free splitting: trial division up to this bound, then the
# cofactor is settled exactly (a square, a prime, or a product of two
# large primes below the bound cubed) or the radical stays opaque.
_TRIAL_DIVISION_BOUND = 1000

# Two fingerprints closer than this (relative) are a sympy candidate.
FINGERPRINT_RTOL = 1e-7
_POINTS = 3


class TooBig(ArithmeticError):
    pass


class _Opaque(Exception):
    pass


# What makes an exact key or a fingerprint unknown (never an error).
_UNKNOWN = (
    _Opaque,
    TooBig,
    ZeroDivisionError,
    OverflowError,
    ValueError,
    KeyError,
    RecursionError,
)
_BUDGET = threading.local()


def _spend(units):
    _BUDGET.left = getattr(_BUDGET, "left", MAX_WORK) - units
    if _BUDGET.left < 0:
        raise TooBig("arithmetic budget exceeded")


def _bits(value):
    return value.numerator.bit_length() + value.denominator.bit_length()


# ----------------------------------------------------------------------
# Exact polynomial keys.
#
# A monomial is (imag, radicand, gens): imag in {0, 1} for a factor i,
# radicand a square-free positive integer for a factor sqrt(radicand), and
# gens a sorted tuple of (name, integer exponent). A polynomial is a dict
# monomial -> nonzero Fraction.
# ----------------------------------------------------------------------
_ONE = (0, 1, ())


def _check(value):
    if (
        value.numerator.bit_length() > MAX_BITS
        or value.denominator.bit_length() > MAX_BITS
    ):
        raise TooBig("number too large")
    return value


def _const(value):
    value = _check(Fraction(value))
    return {_ONE: value} if value else {}


def _mono_mul(a, b):
    coeff = Fraction(1)
    imag = a[0] + b[0]
    if imag == 2:
        imag, coeff = 0, -coeff
    ra, rb = a[1], b[1]
    g = math.gcd(ra, rb)
    radicand = (ra // g) * (rb // g)
    coeff *= g
    gens = dict(a[2])
    for name, exp in b[2]:
        gens[name] = gens.get(name, 0) + exp
        if abs(gens[name]) > MAX_EXPONENT:
            raise TooBig("exponent too large")
    gens = tuple(sorted((n, e) for n, e in gens.items() if e))
    return (imag, radicand, gens), coeff


def _add(p, q):
    out = dict(p)
    _spend(len(q))
    for mono, coeff in q.items():
        value = out.get(mono, 0) + coeff
        if value:
            out[mono] = _check(value)
        else:
            out.pop(mono, None)
    return out


def _scale(p, c):
    return {m: _check(v * c) for m, v in p.items()} if c else {}


def _mul(p, q):
    if len(p) * len(q) > MAX_TERMS * MAX_TERMS:
        raise TooBig("product too large")
    out = {}
    for ma, ca in p.items():
        for mb, cb in q.items():
            _spend(1 + (_bits(ca) + _bits(cb)) // 64)
            mono, c = _mono_mul(ma, mb)
            value = out.get(mono, 0) + ca * cb * c
            if value:
                out[mono] = _check(value)
            else:
                out.pop(mono, None)
    if len(out) > MAX_TERMS:
        raise TooBig("too many terms")
    return out


def _rational(p):
    """The Fraction value of a constant rational polynomial, else None."""
    if not p:
        return Fraction(0)
    if len(p) == 1 and _ONE in p:
        return p[_ONE]
    return None


_MR_BASES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)


def _is_prime(n):
    """Miller-Rabin with the first 12 prime bases: exact below 3.3e24."""
    if n < 2:
        return False
    for p in _MR_BASES:
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for a in _MR_BASES:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


@functools.lru_cache(maxsize=4096)
def _squarefree(n):
    """Splits n > 0 as (s, f) with n = s² f and f square-free."""
    if n.bit_length() > 64:
        raise _Opaque
    s, f, d = 1, 1, 2
    while d <= _TRIAL_DIVISION_BOUND and d * d <= n:
        while n % (d * d) == 0:
            n //= d * d
            s *= d
        if n % d == 0:
            n //= d
            f *= d
        d += 1 if d == 2 else 2
    # n has no prime factor up to the bound (or is below its square).
    root = math.isqrt(n)
    if root * root == n:
        return s * root, f
    if n < _TRIAL_DIVISION_BOUND**3 or _is_prime(n):
        # A prime, or two distinct primes: square-free either way.
        return s, f * n
    raise _Opaque


def _sqrt_rational(value):
    """Exact sqrt of a Fraction as a polynomial (i for negatives)."""
    imag = 1 if value < 0 else 0
    value = abs(value)
    # sqrt(p/q) = sqrt(p q) / q.
    _spend(1 + _TRIAL_DIVISION_BOUND // 64)
    s, f = _squarefree(value.numerator * value.denominator)
    coeff = Fraction(s, value.denominator)
    if coeff == 0:
        return {}
    return {(imag, f, ()): coeff}


def _opaque(name):
    return {(0, 1, ((name, 1),)): Fraction(1)}


def _key_of(p):
    return tuple(sorted(p.items(), key=lambda item: repr(item[0])))


def _inverse(p):
    if not p:
        raise ZeroDivisionError
    if len(p) == 1:
        (((imag, radicand, gens), coeff),) = p.items()
        # 1/(c i^a sqrt(r) g) = (-i)^a sqrt(r) / (c r) g^-1.
        inv_coeff = Fraction(1) / (coeff * radicand)
        if imag:
            inv_coeff = -inv_coeff
        inv_gens = tuple((n, -e) for n, e in gens)
        return {(imag, radicand, inv_gens): _check(inv_coeff)}
    # Division by a sum: an opaque generator for the monic denominator, so
    # 1/(2x+2) and (1/2)/(x+1) still share a key.
    lead = p[min(p, key=repr)]
    monic = _scale(p, 1 / lead)
    return _scale(_opaque("inv" + repr(_key_of(monic))), 1 / lead)


def _poly(node):
    kind = node[0]
    if kind == "num":
        return _const(node[1])
    if kind == "sym":
        return _opaque(node[1])
    if kind == "const":
        if node[1] == "i":
            return {(1, 1, ()): Fraction(1)}
        if node[1] == "pi":
            return _opaque("pi")
        raise _Opaque  # infinity is handled structurally, not here
    if kind == "add":
        out = {}
        for arg in node[1]:
            out = _add(out, _poly(arg))
        return out
    if kind == "neg":
        return _scale(_poly(node[1]), -1)
    if kind == "mul":
        out = _const(1)
        for arg in node[1]:
            out = _mul(out, _poly(arg))
        return out
    if kind == "div":
        return _mul(_poly(node[1]), _inverse(_poly(node[2])))
    if kind == "pow":
        return _power(_poly(node[1]), _poly(node[2]), node)
    if kind == "root":
        radicand, index = _poly(node[1]), _rational(_poly(node[2]))
        if index == 2:
            value = _rational(radicand)
            if value is not None:
                return _sqrt_rational(value)
        if index is not None and index.denominator == 1 and index > 0:
            return _power(radicand, _const(Fraction(1, int(index))), node)
        return _opaque(repr(node))
    if kind == "fact":
        value = _rational(_poly(node[1]))
        if value is None or value.denominator != 1 or value < 0:
            return _opaque(repr(node))
        if value > MAX_FACTORIAL:
            raise TooBig("factorial too large")
        return _const(math.factorial(int(value)))
    if kind == "binom":
        n, k = _rational(_poly(node[1])), _rational(_poly(node[2]))
        if n is None or k is None or n.denominator != 1 or k.denominator != 1:
            return _opaque(repr(node))
        if n > 10 * MAX_FACTORIAL:
            raise TooBig("binomial too large")
        return _const(math.comb(int(n), int(k)) if 0 <= k <= n else 0)
    if kind == "big":
        # A sum or product is one opaque generator named by its index and
        # the exact keys of its bounds and body: `\\sum F_k F_{n-k}` and
        # `\\sum F_{n-k} F_k` share it. Sums are never evaluated.
        parts = tuple(_key_of(_poly(part)) for part in node[3:])
        return _opaque(f"{node[1]}_{node[2]}({parts!r})")
    if kind in ("fn", "abs"):
        inner = _poly(node[2] if kind == "fn" else node[1])
        if kind == "abs":
            value = _rational(inner)
            if value is not None:
                return _const(abs(value))
        name = node[1] if kind == "fn" else "abs"
        return _opaque(f"{name}({_key_of(inner)!r})")
    raise _Opaque


def _power(base, exponent, node):
    exp = _rational(exponent)
    if exp is None:
        return _opaque("pow" + repr((_key_of(base), _key_of(exponent))))
    if exp.denominator == 1:
        n = int(exp)
        if abs(n) > MAX_EXPONENT:
            raise TooBig("exponent too large")
        value = _rational(base)
        if value is not None:
            if value == 0 and n < 0:
                raise ZeroDivisionError
            bits = max(value.numerator.bit_length(), 1) * abs(n)
            if bits > MAX_BITS:
                raise TooBig("power too large")
            return _const(value**n)
        if len(base) == 1:
            # A single monomial: exponents multiply without expanding.
            (((imag, radicand, gens), coeff),) = base.items()
            if abs(n) * max(coeff.numerator.bit_length(), 1) > MAX_BITS:
                raise TooBig("power too large")
            if radicand == 1 and not imag:
                gens = tuple((g, e * n) for g, e in gens)
                if any(abs(e) > MAX_EXPONENT for _, e in gens):
                    raise TooBig("exponent too large")
                return {(0, 1, gens): _check(coeff**n)}
        if n < 0:
            return _inverse(_power(base, _const(-n), node))
        if n * len(base) > 4 * MAX_TERMS:
            raise TooBig("expansion too large")
        out = _const(1)
        for _ in range(n):
            out = _mul(out, base)
        return out
    value = _rational(base)
    if exp.denominator == 2 and value is not None and value >= 0:
        root = _sqrt_rational(value)
        return _power(root, _const(exp.numerator), node)
    return _opaque("pow" + repr((_key_of(base), exp)))


def exact_key(node):
    """A hashable exact canonical form of an expression tree, or None.

    Returns None when the tree leaves the exact class in a way an opaque
    generator cannot cover (infinity) or when a bound is exceeded.
    """
    poly = exact_poly(node)
    return None if poly is None else ("poly", _key_of(poly))


def exact_poly(node):
    """The polynomial behind `exact_key` (a dict), or None."""
    _BUDGET.left = MAX_WORK
    try:
        return _poly(node)
    except _UNKNOWN:
        return None


def rational_value(node):
    """The exact value of an expression tree when it is a rational
    number (`2^{10}`, `\\frac{6}{4}`, `\\sqrt{4}`), else None (variables,
    irrational values, or a tree outside the exact class)."""
    poly = exact_poly(node)
    return None if poly is None else _rational(poly)


def is_rational(key):
    """True when an `exact_key` is the key of a rational number."""
    return key[0] == "poly" and all(m == _ONE for m, _ in key[1])


def proportional(p, q):
    """The rational c with p == c q (c != 0) for polynomials, else None."""
    if not p or not q or p.keys() != q.keys():
        return None
    mono = next(iter(q))
    ratio = p[mono] / q[mono]
    if all(p[m] == ratio * q[m] for m in q):
        return ratio
    return None


# ----------------------------------------------------------------------
# Numeric fingerprints.
# ----------------------------------------------------------------------
def _symbol_value(name, point):
    # Deterministic pseudo-random complex values, different per name and
    # point, away from 0 and from the real axis (avoids branch cuts).
    h = zlib.crc32(f"{name}#{point}".encode())
    re_part = 0.3 + (h % 1000) / 700.0
    im_part = 0.2 + ((h // 1000) % 1000) / 1500.0
    return complex(re_part, im_part)


_FUNCS = {
    "sin": cmath.sin,
    "cos": cmath.cos,
    "tan": cmath.tan,
    "cot": lambda z: 1 / cmath.tan(z),
    "sec": lambda z: 1 / cmath.cos(z),
    "csc": lambda z: 1 / cmath.sin(z),
    "arcsin": cmath.asin,
    "arccos": cmath.acos,
    "arctan": cmath.atan,
    "sinh": cmath.sinh,
    "cosh": cmath.cosh,
    "tanh": cmath.tanh,
    "log": cmath.log,
    "ln": cmath.log,
    "exp": cmath.exp,
}


def _value(node, point):
    kind = node[0]
    if kind == "num":
        return complex(node[1])
    if kind == "sym":
        return _symbol_value(node[1], point)
    if kind == "const":
        if node[1] == "pi":
            return complex(math.pi)
        if node[1] == "i":
            return 1j
        raise _Opaque
    if kind == "add":
        return sum((_value(a, point) for a in node[1]), 0j)
    if kind == "neg":
        return -_value(node[1], point)
    if kind == "mul":
        out = 1 + 0j
        for arg in node[1]:
            out *= _value(arg, point)
        return out
    if kind == "div":
        return _value(node[1], point) / _value(node[2], point)
    if kind == "pow":
        base, exp = _value(node[1], point), _value(node[2], point)
        if abs(exp) > MAX_EXPONENT:
            raise TooBig("exponent too large")
        if exp.imag == 0 and exp.real == int(exp.real):
            return base ** int(exp.real)
        return base**exp
    if kind == "root":
        radicand, index = _value(node[1], point), _value(node[2], point)
        if index == 2:
            return cmath.sqrt(radicand)
        if radicand.imag == 0 and radicand.real < 0 and index.real % 2 == 1:
            return -((-radicand) ** (1 / index))
        return radicand ** (1 / index)
    if kind == "fact":
        value = _value(node[1], point)
        if value.imag or value.real != int(value.real) or value.real < 0:
            raise _Opaque
        if value.real > MAX_FACTORIAL:
            raise TooBig("factorial too large")
        return complex(math.factorial(int(value.real)))
    if kind == "binom":
        n, k = _value(node[1], point), _value(node[2], point)
        if n.imag or k.imag or n.real != int(n.real) or k.real != int(k.real):
            raise _Opaque
        if n.real > 10 * MAX_FACTORIAL or n.real < 0 or k.real < 0:
            raise TooBig("binomial too large")
        return complex(math.comb(int(n.real), int(k.real)))
    if kind == "abs":
        return complex(abs(_value(node[1], point)))
    if kind == "fn":
        return _FUNCS[node[1]](_value(node[2], point))
    raise _Opaque


def fingerprint(node):
    """Complex values of the tree at fixed points, or None if unknown."""
    try:
        values = tuple(_value(node, p) for p in range(_POINTS))
    except _UNKNOWN:
        return None
    if not all(cmath.isfinite(v) for v in values):
        return None
    return values


def fingerprints_close(a, b):
    """False only when two fingerprints prove the values different."""
    if a is None or b is None:
        return True
    for x, y in zip(a, b):
        scale = max(abs(x), abs(y), 1e-12)
        if abs(x - y) > FINGERPRINT_RTOL * scale + 1e-12:
            return False
    return True


def fingerprints_proportional(a, b, positive=False):
    """False only when a/b provably varies (or has the wrong sign)."""
    if a is None or b is None:
        return True
    if any(abs(y) < 1e-12 for y in b) or any(abs(x) < 1e-12 for x in a):
        return all(abs(x) < 1e-12 for x in a) == all(abs(y) < 1e-12 for y in b)
    ratios = [x / y for x, y in zip(a, b)]
    if positive and not (ratios[0].real > 0 and abs(ratios[0].imag) < 1e-9):
        return False
    return fingerprints_close(tuple(ratios), tuple([ratios[0]] * len(ratios)))

"""Writing every Sloth golden: PyYAML's emitters against the hand-written one they replaced.

    python benchmarks/rules_yaml.py [--repeat 5] [--passes 20]

The documents of every golden pair `tests/sloth/test_generate.py` checks are captured once (the nodes
`rules_yaml.dump` receives), then written `--passes` times by each emitter: the old hand-written
one (`tests/sloth/legacy_rules_yaml.py`, the baseline), PyYAML's libyaml binding (what
`slogate generate` uses) and PyYAML's pure-Python emitter (its fallback). Printed: time per pass
over all goldens (best of `--repeat`) and its ratio to the baseline; then the same for a whole
`slogate generate` of every golden (spec loading and rule generation included), old emitter vs
new. Every output is checked byte for byte against the golden first.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slogate.sloth import rules_yaml  # noqa: E402
from slogate.sloth.rules_yaml import GoYAMLDumper, PythonGoYAMLDumper, YAMLNode  # noqa: E402
from tests.sloth import legacy_rules_yaml as legacy  # noqa: E402
from tests.sloth.test_generate import GOLDENS  # noqa: E402

Emitter = Callable[[YAMLNode], str]
NEW = rules_yaml.dump
EMITTERS: dict[str, Emitter] = {
    "old (hand-written)": legacy.dump,
    "libyaml (CSafeDumper)": lambda node: NEW(node, dumper=GoYAMLDumper),
    "pure Python (SafeDumper)": lambda node: NEW(node, dumper=PythonGoYAMLDumper),
}


def generate_all(emitter: Emitter) -> list[YAMLNode]:
    """Every golden generated with `emitter` writing the YAML; the nodes it was given."""
    nodes: list[YAMLNode] = []

    def recording(node: YAMLNode) -> str:
        nodes.append(node)
        return emitter(node)

    rules_yaml.dump = recording  # type: ignore[assignment]
    try:
        for golden in GOLDENS:
            run = golden.generate()
            if run.code != 0 or run.stdout != golden.expected():
                raise SystemExit(f"{golden.id}: not byte-identical to the golden")
    finally:
        rules_yaml.dump = NEW
    return nodes


def best(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def report(title: str, timings: dict[str, float]) -> None:
    baseline = next(iter(timings.values()))
    print(title)
    for name, seconds in timings.items():
        print(f"  {name:26} {seconds * 1000:9.2f} ms   {seconds / baseline:5.2f}x the old")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--passes", type=int, default=20)
    args = parser.parse_args(argv)
    nodes = generate_all(NEW)
    for emitter in EMITTERS.values():
        if [emitter(n) for n in nodes] != [legacy.dump(n) for n in nodes]:
            raise SystemExit("the emitters disagree on a golden")
    size = sum(len(legacy.dump(n)) for n in nodes)
    print(f"{len(GOLDENS)} goldens, {len(nodes)} documents, {size / 1000:.0f} kB of YAML")

    def writing(emitter: Emitter) -> Callable[[], object]:
        return lambda: [emitter(n) for _ in range(args.passes) for n in nodes]

    report(
        f"write all goldens (per pass, best of {args.repeat} x {args.passes} passes):",
        {name: best(args.repeat, writing(e)) / args.passes for name, e in EMITTERS.items()},
    )
    report(
        f"slogate generate of every golden (best of {args.repeat}):",
        {
            "old (hand-written)": best(args.repeat, lambda: generate_all(legacy.dump)),
            "libyaml (CSafeDumper)": best(args.repeat, lambda: generate_all(NEW)),
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

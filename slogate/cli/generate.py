"""`slogate generate`: Sloth-compatible Prometheus rules from Sloth SLO specs.

Same flags and output as `sloth generate` (v0.16): one input file (`-o -` writes to stdout) or a
directory walked recursively whose tree is mirrored under `-o DIR`; every spec document gets
Sloth's header and either a Prometheus rule file or, for Kubernetes `PrometheusServiceLevel`
specs, a prometheus-operator `PrometheusRule` (`--format` overrides the choice).

Nothing is written unless every spec is valid: problems are printed one per line (exit 1).
Exit 2 is a usage error (bad flag, missing input, output that cannot be written).

The rule generator and the spec loader are imported when generating, not with the module: every
`slogate` command builds this parser.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from slogate.cli.options import add_spec_options, load_options
from slogate.conventions import DEFAULT_VERSION
from slogate.errors import AlertWindowsError, SpecError, UsageError

if TYPE_CHECKING:
    from slogate.core.model import SLO
    from slogate.sloth.rules import GenerateOptions
    from slogate.sloth.rules_yaml import K8sMeta
    from slogate.sloth.spec import LoadOptions

OutputFormat = Literal["prometheus", "prometheus-operator"]
FORMATS: Final[tuple[OutputFormat, ...]] = ("prometheus", "prometheus-operator")
STDOUT: Final = "-"
NO_RULES: Final = "0 SLO Prometheus rules generated"
EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


# --- Generation of one spec file ------------------------------------------------------------------


def default_format(slo: SLO) -> OutputFormat:
    """Sloth's choice: a PrometheusRule for Kubernetes specs, a rule file for the others."""
    return "prometheus-operator" if slo.origin.kind == "sloth.slok.dev/v1" else "prometheus"


def _k8s_name(text: str) -> str:
    """A Kubernetes object name (DNS subdomain) derived from `text`."""
    return re.sub(r"[^a-z0-9.-]+", "-", text.lower()).strip("-.") or "sloth-slo"


def k8s_meta(slo: SLO) -> K8sMeta:
    """PrometheusRule metadata: the CR's own, or `sloth-slo-<service>` for other specs."""
    from slogate.sloth.rules_yaml import K8sMeta

    origin = slo.origin
    if origin.k8s_name:
        return K8sMeta(
            origin.k8s_name, origin.k8s_namespace, origin.k8s_labels, origin.k8s_annotations
        )
    return K8sMeta(_k8s_name(f"sloth-slo-{slo.service}"))


def render_document(
    slos: Sequence[SLO],
    options: GenerateOptions,
    *,
    output_format: OutputFormat | None = None,
    spec_document: Mapping[str, Any] | None = None,
) -> str:
    """The output of one spec document (header included). Raises `SpecError`."""
    from slogate.sloth.rules import generate_rules, rule_groups
    from slogate.sloth.rules_yaml import render_prometheus_rule, render_rule_file

    groups = rule_groups(generate_rules(slos, options, spec_document=spec_document))
    if not groups:
        raise SpecError(NO_RULES)
    if (output_format or default_format(slos[0])) == "prometheus-operator":
        return render_prometheus_rule(k8s_meta(slos[0]), groups, options.version)
    return render_rule_file(groups, options.version)


def _documents(slos: Sequence[SLO]) -> dict[int, list[SLO]]:
    by_document: dict[int, list[SLO]] = {}
    for slo in slos:
        by_document.setdefault(slo.origin.document, []).append(slo)
    return dict(sorted(by_document.items()))


def generate_text(
    text: str,
    source: str,
    *,
    load_options: LoadOptions | None = None,
    options: GenerateOptions | None = None,
    output_format: OutputFormat | None = None,
) -> tuple[str, list[SpecError]]:
    """Every document of one spec file, rendered; or the problems found (and no output)."""
    import yaml

    from slogate.sloth.rules import GenerateOptions
    from slogate.sloth.spec import check_text, split_documents

    opts = options or GenerateOptions()
    slos, errors = check_text(text, source, load_options)
    if errors:
        return "", errors
    documents = split_documents(text)
    parts: list[str] = []
    for index, doc_slos in _documents(slos).items():
        where = source if len(documents) == 1 else f"{source} (document {index + 1})"
        try:
            parts.append(
                render_document(
                    doc_slos,
                    opts,
                    output_format=output_format,
                    spec_document=yaml.safe_load(documents[index]),
                )
            )
        except SpecError as exc:
            errors.append(SpecError(exc.reason, source=exc.source or where, slo=exc.slo))
    return ("", errors) if errors else ("".join(parts), [])


# --- The command line -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """One spec file and where its rules go (None: stdout)."""

    source: Path
    out: Path | None


def _label(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    if not key or key == "__name__":
        raise argparse.ArgumentTypeError(f'the label key "{key}" is not valid')
    if not value:
        raise argparse.ArgumentTypeError(f'label "{key}": the label value is required')
    return key, value


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `generate` subcommand (its `func` is `cmd_generate`)."""
    parser = subparsers.add_parser(
        "generate",
        help="Sloth-compatible Prometheus rules from SLO specs",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("-i", "--input", required=True, help="spec file or directory (recursive)")
    parser.add_argument(
        "-o", "--out", default=STDOUT, help="output file, `-` for stdout, or a directory"
    )
    parser.add_argument(
        "-l",
        "--extra-labels",
        type=_label,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="label added to every rule (repeatable)",
    )
    parser.add_argument("--disable-recordings", action="store_true")
    parser.add_argument("--disable-alerts", action="store_true")
    add_spec_options(parser, filters=True)
    parser.add_argument(
        "--format",
        choices=FORMATS,
        help="output layout (default: PrometheusRule for Kubernetes specs, else a rule file)",
    )
    parser.add_argument(
        "--sloth-version", default=DEFAULT_VERSION, help="version written in headers and labels"
    )
    parser.set_defaults(func=cmd_generate)


def _load_options(args: argparse.Namespace) -> LoadOptions:
    try:
        return load_options(args.slo_period_windows_path, args.default_slo_period)
    except (AlertWindowsError, SpecError) as exc:
        raise UsageError(f"could not load SLO period windows: {exc}") from None


def _targets(args: argparse.Namespace) -> list[Target]:
    source = Path(args.input)
    if not source.exists():
        raise UsageError(f"{source}: no such file or directory")
    if source.is_file():
        if args.out != STDOUT and Path(args.out).is_dir():
            raise UsageError(f"the path {args.out!r} is a directory, however input is a file")
        return [Target(source, None if args.out == STDOUT else Path(args.out))]
    out = Path(args.out)
    if args.out == STDOUT or (out.exists() and not out.is_dir()):
        raise UsageError(f"the path {args.out!r} is not a directory, however input is a directory")
    if out.resolve() == source.resolve():
        raise UsageError(f"input and output can't be the same directory: {source.resolve()}")
    from slogate.evaluation.specfiles import discover

    files = discover(source, args.fs_include, args.fs_exclude)
    return [Target(f, out / f.relative_to(source)) for f in files]


def _generate(
    targets: Sequence[Target], args: argparse.Namespace
) -> tuple[list[str], list[SpecError]]:
    from slogate.core.model import frozen_labels
    from slogate.sloth.rules import GenerateOptions

    load_options = _load_options(args)
    options = GenerateOptions(
        version=args.sloth_version,
        extra_labels=frozen_labels(dict(args.extra_labels)),
        disable_recordings=args.disable_recordings,
        disable_alerts=args.disable_alerts,
    )
    outputs: list[str] = []
    errors: list[SpecError] = []
    for target in targets:
        try:
            text = target.source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(SpecError(f"cannot read: {exc}", source=str(target.source)))
            continue
        output, problems = generate_text(
            text,
            str(target.source),
            load_options=load_options,
            options=options,
            output_format=args.format,
        )
        outputs.append(output)
        errors.extend(problems)
    return outputs, errors


def _write(targets: Sequence[Target], outputs: Sequence[str]) -> None:
    for target, output in zip(targets, outputs, strict=True):
        if target.out is None:
            sys.stdout.write(output)
            continue
        try:
            target.out.parent.mkdir(parents=True, exist_ok=True)
            target.out.write_text(output, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"could not write {target.out}: {exc}") from None


def cmd_generate(args: argparse.Namespace) -> int:
    """Run `slogate generate`; 0 written, 1 invalid specs, 2 usage error."""
    try:
        targets = _targets(args)
        if not targets:
            print(
                f"slogate generate: {args.input}: 0 slo specs have been discovered", file=sys.stderr
            )
            return EXIT_INVALID
        outputs, errors = _generate(targets, args)
        if errors:
            for error in errors:
                print(error.line(), file=sys.stderr)
            return EXIT_INVALID
        _write(targets, outputs)
    except UsageError as exc:
        print(f"slogate generate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK

"""Benchmark the safety classifiers on the held-out test split and measure their speed.

    python -m benchmarks.classifiers [--embedding] [--block-threshold 0.5] [--repeat 200]

Prints, for the layer stack patterns + learned (and + embedding with ``--embedding``):

* detection per category on the test split, first at a uniform block threshold (0.5), then at
  the per-category thresholds recommended by training (read off train-split out-of-fold scores,
  never off this test split): harmful items whose confidence for THEIR category
  reaches the block threshold, plus the share blocked under any category;
* benign false-positive rate: benign items with any category at or above the block threshold;
* disclosure-level items (confidence >= 0.999): benign count (target 0) and harmful share;
* detection by variant (template, wrapper, obfuscation kind, language);
* expected calibration error of the per-category confidences (10 equal-width bins);
* throughput: milliseconds per 1 KB prompt on one core (BLAS and torch limited to one thread);
* a markdown row per stack and threshold set, as pasted into ``benchmarks/RESULTS.md``; its
  "dilution" column is the detection of harmful requests hidden in benign prose, stories and
  4 KB of padding (variants ``prose-around``, ``prose-before``, ``story``, ``padded-4kb``).

``--split dev`` measures the dev split instead (not blind: it served model selection), and
``--data-dir`` loads other artefacts (with the code of their own version, for before/after).

Test items come from the blind seed files (``tests/data/seeds/blind``): clusters never seen in
training or development, rendered with templates, wrappers, stories and prose that appear only
in the test split (see tests/data/build_sets.py).
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from inference.classifiers import (  # noqa: E402
    CATEGORIES,
    DISCLOSURE_THRESHOLD,
    ClassifierConfig,
    SafetyClassifier,
    load_classifiers,
)
from inference.classifiers.train import load_rows  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "classifier_sets.jsonl.gz"
TARGET_DETECTION = 0.95
TARGET_FPR = 0.01


def load_split(split: str) -> list[dict[str, str]]:
    return load_rows(DATA, (split,))


def expected_calibration_error(confidence: np.ndarray, truth: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges) - 1, 0, bins - 1)
    error = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            error += mask.mean() * abs(confidence[mask].mean() - truth[mask].mean())
    return float(error)


def score_rows(classifier: SafetyClassifier, rows: list[dict[str, str]]) -> np.ndarray:
    return np.array(
        [[a.confidence[c] for c in CATEGORIES] for a in map(classifier.assess, (r["text"] for r in rows))]
    )


def evaluate(confidence: np.ndarray, rows: list[dict[str, str]], thresholds: np.ndarray) -> dict:
    names = [str(c) for c in CATEGORIES]
    harmful = np.array([row["label"] == "harmful" for row in rows])
    truth = np.zeros_like(confidence)
    for i, row in enumerate(rows):
        if row["label"] == "harmful":
            truth[i, names.index(row["category"])] = 1.0
    blocked = confidence >= thresholds
    report: dict = {
        "n_test": len(rows),
        "thresholds": dict(zip(names, thresholds.tolist(), strict=True)),
        "categories": {},
    }
    for k, name in enumerate(names):
        mask = truth[:, k] == 1
        report["categories"][name] = {
            "n": int(mask.sum()),
            "detection": float(blocked[mask, k].mean()),
            "blocked_any_category": float(blocked[mask].any(axis=1).mean()),
            "disclosure_level": float((confidence[mask, k] >= DISCLOSURE_THRESHOLD).mean()),
            "ece": expected_calibration_error(confidence[:, k], truth[:, k]),
        }
    report["benign"] = {
        "n": int((~harmful).sum()),
        "false_positive_rate": float(blocked[~harmful].any(axis=1).mean()),
        "at_disclosure_level": int((confidence[~harmful].max(axis=1) >= DISCLOSURE_THRESHOLD).sum()),
    }
    by_variant: dict[str, list[bool]] = defaultdict(list)
    benign_by_variant: dict[str, list[bool]] = defaultdict(list)
    for i, row in enumerate(rows):
        if row["label"] == "harmful":
            by_variant[row["variant"]].append(bool(blocked[i, names.index(row["category"])]))
        else:
            benign_by_variant[row["variant"]].append(bool(blocked[i].any()))
    report["detection_by_variant"] = {
        variant: {"n": len(hits), "detection": float(np.mean(hits))}
        for variant, hits in sorted(by_variant.items())
    }
    report["fpr_by_variant"] = {
        variant: {"n": len(hits), "fpr": float(np.mean(hits))}
        for variant, hits in sorted(benign_by_variant.items())
    }
    return report


def kilobyte_prompts(rows: list[dict[str, str]], count: int) -> list[str]:
    """Prompts of exactly 1024 characters, each a different mix of test texts."""
    texts = [row["text"] for row in rows]
    prompts = []
    for start in range(count):
        parts, size, i = [], 0, start
        while size < 1024:
            parts.append(texts[i % len(texts)])
            size += len(parts[-1]) + 1
            i += 7
        prompts.append(" ".join(parts)[:1024])
    return prompts


def throughput_ms(classifier: SafetyClassifier, prompts: list[str]) -> dict[str, float]:
    for prompt in prompts[:10]:
        classifier.assess(prompt)
    timings = []
    for prompt in prompts:
        start = time.perf_counter()
        classifier.assess(prompt)
        timings.append((time.perf_counter() - start) * 1000.0)
    values = np.array(timings)
    return {
        "mean": float(values.mean()),
        "p50": float(np.percentile(values, 50)),
        "p99": float(np.percentile(values, 99)),
    }


def print_report(title: str, report: dict, speed: dict[str, float]) -> None:
    thresholds = ", ".join(f"{k} {v:.3f}" for k, v in report["thresholds"].items())
    print(f"\n== {title} (block thresholds: {thresholds}) ==")
    print(f"{'category':<8} {'n':>4} {'detection':>10} {'any-cat':>8} {'>=0.999':>8} {'ECE':>6}")
    for name, row in report["categories"].items():
        flag = "" if row["detection"] >= TARGET_DETECTION else "  (below 95% target)"
        print(
            f"{name:<8} {row['n']:>4} {row['detection']:>10.1%} {row['blocked_any_category']:>8.1%}"
            f" {row['disclosure_level']:>8.1%} {row['ece']:>6.3f}{flag}"
        )
    benign = report["benign"]
    flag = "" if benign["false_positive_rate"] <= TARGET_FPR else "  (above 1% target)"
    print(f"benign   {benign['n']:>4} FPR {benign['false_positive_rate']:.2%}{flag}")
    print(f"benign items at >= 0.999: {benign['at_disclosure_level']} (target 0)")
    print("detection by variant: " + ", ".join(
        f"{v} {r['detection']:.0%} (n={r['n']})" for v, r in report["detection_by_variant"].items()
    ))  # fmt: skip
    print("benign FPR by variant: " + ", ".join(
        f"{v} {r['fpr']:.1%} (n={r['n']})" for v, r in report["fpr_by_variant"].items()
    ))  # fmt: skip
    print(
        f"throughput, 1 KB prompt, one core: mean {speed['mean']:.2f} ms,"
        f" p50 {speed['p50']:.2f} ms, p99 {speed['p99']:.2f} ms"
    )


DILUTIONS = ("prose-around", "prose-before", "story", "padded-4kb")


def markdown_row(title: str, report: dict, speed: dict[str, float]) -> str:
    """One row of the RESULTS.md table: detection per category, FPR, benign >= 0.999, ms/KB."""
    cells = [f"{row['detection']:.1%}" for row in report["categories"].values()]
    benign = report["benign"]
    dilution = [report["detection_by_variant"][v] for v in DILUTIONS if v in report["detection_by_variant"]]
    diluted = sum(d["detection"] * d["n"] for d in dilution) / max(sum(d["n"] for d in dilution), 1)
    return (
        f"| {title} | {' | '.join(cells)} | {benign['false_positive_rate']:.2%} |"
        f" {benign['at_disclosure_level']} | {diluted:.1%} | {speed['mean']:.1f} / {speed['p99']:.1f} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedding", action="store_true", help="also run the MiniLM layer")
    parser.add_argument(
        "--block-threshold",
        type=float,
        default=0.5,
        help="uniform threshold reported first; the recommended per-category ones follow",
    )
    parser.add_argument("--repeat", type=int, default=200, help="1 KB prompts to time")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--split", default="test", choices=("test", "dev", "train"))
    parser.add_argument("--data-dir", type=Path, help="artefacts to load instead of the shipped ones")
    args = parser.parse_args()
    rows = load_split(args.split)
    prompts = kilobyte_prompts(rows, args.repeat)
    stacks = [("patterns + learned (layers 1-3)", ClassifierConfig(data_dir=args.data_dir))]
    if args.embedding:
        import torch

        torch.set_num_threads(1)
        with_embedding = ClassifierConfig(embedding=True, data_dir=args.data_dir)
        stacks.append(("patterns + learned + embedding", with_embedding))
    results = {}
    table: list[str] = []
    for title, config in stacks:
        classifier = load_classifiers(config)
        confidence = score_rows(classifier, rows)
        speed = throughput_ms(classifier, prompts)
        uniform = evaluate(confidence, rows, np.full(len(CATEGORIES), args.block_threshold))
        print_report(f"{title}, uniform threshold", uniform, speed)
        recommended = np.array([classifier.block_thresholds[c] for c in CATEGORIES])
        tuned = evaluate(confidence, rows, recommended)
        print_report(f"{title}, recommended thresholds (train OOF)", tuned, speed)
        results[title] = {"uniform": uniform, "recommended": tuned, "ms_per_1kb": speed}
        thresholds = " / ".join(f"{t:.2f}" for t in recommended)
        table.append(markdown_row(f"{title}, 0.5", uniform, speed))
        table.append(markdown_row(f"{title}, recommended ({thresholds})", tuned, speed))
    print(
        f"\n{args.split} split; columns: csam | bio | chem | cyber | benign FPR | benign >= 0.999 |"
        " dilution shapes detected | ms per 1 KB (mean / p99)"
    )
    print("\n".join(table))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

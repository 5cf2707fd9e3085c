"""Metric logging: one CSV row per logged step and TensorBoard scalars, both resumable.

On resume, rows and events after the checkpoint's step are dropped, so the logs of a resumed run
read as those of a run that never stopped.
"""
from __future__ import annotations

import csv
from pathlib import Path


class MetricLogger:
    """Writes metrics.csv and TensorBoard event files under `out_dir` (rank 0 only).

    The CSV columns are fixed by the first row written (step, epoch, then sorted metric names);
    metrics that first appear later go to TensorBoard only.
    """

    def __init__(self, out_dir: Path, resume_step: int = 0, enabled: bool = True):
        self.enabled = enabled
        self.csv_path = Path(out_dir) / "metrics.csv"
        self.columns: list[str] | None = None
        self.writer = None
        if not enabled:
            return
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        self._trim_csv(resume_step)
        from torch.utils.tensorboard import SummaryWriter  # heavy import, only on rank 0

        # purge_step drops events a killed run wrote after its last checkpoint.
        self.writer = SummaryWriter(log_dir=str(Path(out_dir) / "tb"),
                                    purge_step=resume_step if resume_step > 0 else None)

    def _trim_csv(self, resume_step: int) -> None:
        if not self.csv_path.is_file():
            return
        with self.csv_path.open(newline="") as f:
            rows = list(csv.reader(f))
        if not rows:
            return
        self.columns = rows[0]
        kept = [r for r in rows[1:] if r and int(float(r[0])) <= resume_step]
        with self.csv_path.open("w", newline="") as f:
            csv.writer(f).writerows([self.columns, *kept])

    def log(self, step: int, epoch: int, metrics: dict[str, float]) -> None:
        if not self.enabled:
            return
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, step)
        if self.columns is None:
            self.columns = ["step", "epoch", *sorted(metrics)]
            with self.csv_path.open("w", newline="") as f:
                csv.writer(f).writerow(self.columns)
        row = {"step": step, "epoch": epoch, **metrics}
        with self.csv_path.open("a", newline="") as f:
            csv.writer(f).writerow([_fmt(row.get(c, "")) for c in self.columns])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()


def _fmt(value) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)

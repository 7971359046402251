"""Project defaults, resolved against the checkout so commands work from anywhere in it."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RAW_DIR = PROJECT_ROOT / "data" / "raw"
DEFAULT_OUT_DIR = PROJECT_ROOT / "data" / "processed"
# Documents per batch. Two batches are processed at once, so this bounds a run's memory
# whatever the corpus size: at 100k statements 10,000 peaked at ~0.8 GB RSS against
# ~0.6 GB with 5,000, and ran ~10-25 % faster (fewer task runs, pandera calls and part
# files per statement; docs/performance.md).
DEFAULT_BATCH_SIZE = 10_000

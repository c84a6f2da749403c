"""Per-channel streaming detection: triggers, onset picks, early-P parameters, rejections."""

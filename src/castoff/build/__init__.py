"""Building targets: choosing a method per machine, maturin commands, archives, smoke-runs."""

# Archive times when SOURCE_DATE_EPOCH is unset: before 1980 zip cannot record a time.
DEFAULT_EPOCH = 315532800

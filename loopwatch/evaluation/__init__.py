"""The labelled benchmark: a reproducible corpus and the harness that measures detectors and checks on it.

============  ==================================================================
module        what
============  ==================================================================
midi          a small Standard MIDI File writer
patterns      keys, progressions, bass/guitar/drum patterns, humanisation
fluid         FluidSynth rendering (libfluidsynth or the program, same samples)
wav           deterministic PCM WAV writer with the ACID ``acid`` chunk
corpus        plan and render the corpus; import a user's own library
defects       graded defect injection with exact sample positions
manifest      the ``manifest.csv`` / ``corpus.json`` formats
metrics       AUROC, AP, P/R/F1, intervals, located-finding matching
harness       evaluate detectors (fit/score_samples) and checks (check(audio))
reference     naive baseline features, detectors and checks
figures       the paper's figures as PNG (matplotlib, Agg)
report        the Markdown report
benchmark     the whole run: ``loopwatch bench evaluate``
============  ==================================================================

See ``docs/benchmark.md``. Importing this package imports nothing heavy.
"""

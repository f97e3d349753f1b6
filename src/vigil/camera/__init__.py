"""Camera identification: sensor-noise (PRNU) fingerprints and the PCE test (:mod:`.prnu`)."""

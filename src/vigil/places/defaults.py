"""Defaults of scene search, in a module with no heavy imports (the CLI and the web pages read
them without loading OpenCV); :mod:`vigil.places.verify` and :mod:`vigil.places.search` use them."""

DEFAULT_SHORTLIST = 40
"""Candidates taken from the shortlist index for verification. At 10k indexed images the room
is among the first 30 for 0.958 of the benchmark queries, 40 for 0.978 and 50 for 0.983; each
candidate costs one verification (~3.7 ms), so 40 keeps a search within 200 ms."""
DEFAULT_MIN_INLIERS = 16
"""Default inlier count at which a pair is reported as verified. On the generated benchmark at
10k images (shortlist of 40), 14, 15, 16 and 17 found the room for 0.9525, 0.9525, 0.9525 and
0.95 of the queries, and verified 47, 37, 28 and 26 candidates of unrelated rooms: 16 is the
most a wrong link can be made rarer before true rooms are lost (see docs/places.md)."""
DEFAULT_MIN_COVERAGE = 0.04
"""Default share of the query image the inliers must span (their convex hull) for a verified
pair. Inliers packed into a small region are usually one shared object - the same print,
poster or bedspread in another room - rather than the room: on the generated benchmark at 10k
images, 0.04 kept 336 of 338 verified true pairs and dropped 237 of 288 verified links to
unrelated rooms that share a print with the query (see docs/places.md)."""
DEFAULT_THRESHOLD = 4.0
"""Default reprojection error (feature-image pixels, images <= 640 px) of a homography inlier."""
DEFAULT_MIN_SEED = 11
"""Default inliers the first fit (mutual neighbours, no guidance) must have: below it a pair is
never verified and guided matching does not run."""

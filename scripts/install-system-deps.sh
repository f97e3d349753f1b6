#!/usr/bin/env bash
# Debian packages some tests use: ewf-tools (to build E01 fixtures), Chromium (browser tests) and
# OpenJDK 17 (the Spark linkage engine, tests/persons/test_spark.py): the JDK, not only the JRE,
# because Vigil compiles its Jaro-Winkler UDF (src/vigil/persons/java) with javac on first use.
# Installs what is missing when we are root with apt; otherwise says which tests will skip.
set -u
need=()
command -v ewfacquire >/dev/null 2>&1 || need+=(ewf-tools)
command -v mke2fs >/dev/null 2>&1 || need+=(e2fsprogs)
[ -x /usr/bin/chromium ] || need+=(chromium chromium-driver)
# Spark 4 needs Java 17 or later
java_major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
javac_major=$(javac -version 2>&1 | sed -n 's/^javac \([0-9]*\).*/\1/p' | head -n1)
if ! [ "${java_major:-0}" -ge 17 ] 2>/dev/null || ! [ "${javac_major:-0}" -ge 17 ] 2>/dev/null; then
  need+=(openjdk-17-jdk-headless)
fi
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages for tests: ${need[*]}" >&2
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 \
    || echo "warning: could not install ${need[*]}; tests needing them will skip" >&2
else
  echo "note: ${need[*]} missing and not root: E01 / browser / Spark tests will skip" >&2
fi
exit 0

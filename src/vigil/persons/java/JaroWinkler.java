// DuckDB's jaro_winkler_similarity as a Spark SQL UDF (Vigil, issue 15: the Spark engine).
//
// Built by vigil.persons.spark (javac + jar, into the user's cache) and registered as
// vigil_jaro_winkler; the same algorithm as the SQL function vigil.persons.spark.jaro_winkler_sql
// (the fallback when no JDK is present) and as DuckDB (Max Bachmann's jaro_winkler library):
//   * 0 when either string is empty, NULL when either is NULL;
//   * matching window max(|a|, |b|) / 2 - 1 (integer division, at least 0);
//   * each character of a, in order, takes the first unmatched equal character of b in its window;
//   * transpositions counted over the matched characters in order, halved as an INTEGER
//     (Splink's Scala UDF halves them as a fraction: another similarity on ~3 % of names);
//   * the Winkler boost (common prefix up to 4 characters, weight 0.1) above 0.7.
// Characters are Unicode code points, as Spark SQL's length() and substr() count them.
// The arithmetic is in the same order as the SQL function, so the values are bit-identical.
package vigil.persons;

import org.apache.spark.sql.api.java.UDF2;

public final class JaroWinkler implements UDF2<String, String, Double> {
    private static final long serialVersionUID = 1L;

    @Override
    public Double call(String s1, String s2) {
        if (s1 == null || s2 == null) {
            return null;
        }
        return similarity(s1.codePoints().toArray(), s2.codePoints().toArray());
    }

    public static double similarity(int[] a, int[] b) {
        int la = a.length;
        int lb = b.length;
        if (la == 0 || lb == 0) {
            return 0.0;
        }
        int window = Math.max(Math.max(la, lb) / 2 - 1, 0);
        boolean[] taken = new boolean[lb];
        int[] matchA = new int[Math.min(la, lb)];
        int m = 0;
        for (int i = 0; i < la; i++) {
            int lo = Math.max(0, i - window);
            int hi = Math.min(lb - 1, i + window);
            for (int j = lo; j <= hi; j++) {
                if (!taken[j] && b[j] == a[i]) {
                    taken[j] = true;
                    matchA[m++] = i;
                    break;
                }
            }
        }
        if (m == 0) {
            return 0.0;
        }
        int trans = 0;
        int k = 0;
        for (int j = 0; j < lb; j++) {
            if (taken[j]) {
                if (a[matchA[k]] != b[j]) {
                    trans++;
                }
                k++;
            }
        }
        double x = ((double) m / la + (double) m / lb + (double) (m - trans / 2) / m) / 3.0;
        if (x > 0.7) {
            int limit = Math.min(4, Math.min(la, lb));
            int prefix = 0;
            while (prefix < limit && a[prefix] == b[prefix]) {
                prefix++;
            }
            x = x + prefix * 0.1 * (1.0 - x);
        }
        return x;
    }
}

// DuckDB's hamming(a, b) as a Spark SQL UDF (Vigil, issue 15: the Spark engine), registered as
// vigil_hamming: the number of positions whose characters (Unicode code points) differ. DuckDB
// defines it on strings of equal length only (the comparisons check the lengths first); on
// unequal lengths the positions past the shorter string count as differing, as in the SQL
// fallback of vigil.persons.spark. NULL when either string is NULL.
package vigil.persons;

import org.apache.spark.sql.api.java.UDF2;

public final class Hamming implements UDF2<String, String, Integer> {
    private static final long serialVersionUID = 1L;

    @Override
    public Integer call(String s1, String s2) {
        if (s1 == null || s2 == null) {
            return null;
        }
        int[] a = s1.codePoints().toArray();
        int[] b = s2.codePoints().toArray();
        int n = Math.max(a.length, b.length);
        int differ = 0;
        for (int i = 0; i < n; i++) {
            if (i >= a.length || i >= b.length || a[i] != b[i]) {
                differ++;
            }
        }
        return differ;
    }
}

package com.helpdesktriage.fallback;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Test harness: reads one hex-encoded UTF-8 text per line on stdin and prints, per line,
 * {@code hex(normalized) TAB hex(token),... TAB id,... TAB fnv1a32(text bytes)}, so any language
 * can compare it with {@code vectors.json}. Arguments: nBuckets maxLen charLo charHi wordBigrams.
 */
public final class FeaturizerVectors {
    private FeaturizerVectors() {}

    static String hex(String s) {
        StringBuilder sb = new StringBuilder();
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            sb.append(String.format("%02x", b & 0xFF));
        }
        return sb.toString();
    }

    static String unhex(String h) {
        byte[] out = new byte[h.length() / 2];
        for (int i = 0; i < out.length; i++) {
            out[i] = (byte) Integer.parseInt(h.substring(2 * i, 2 * i + 2), 16);
        }
        return new String(out, StandardCharsets.UTF_8);
    }

    public static void main(String[] args) throws Exception {
        Featurizer f = new Featurizer(Integer.parseInt(args[0]), Integer.parseInt(args[1]),
                Integer.parseInt(args[2]), Integer.parseInt(args[3]), Boolean.parseBoolean(args[4]));
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        StringBuilder out = new StringBuilder();
        String line;
        while ((line = in.readLine()) != null) {
            String text = unhex(line.trim());
            List<String> tokens = new ArrayList<>();
            for (String t : f.tokens(text)) {
                tokens.add(hex(t));
            }
            List<String> ids = new ArrayList<>();
            for (int id : f.ids(text)) {
                ids.add(Integer.toString(id));
            }
            out.append(hex(Featurizer.normalize(text))).append('\t').append(String.join(",", tokens))
               .append('\t').append(String.join(",", ids)).append('\t')
               .append(Featurizer.fnv1a32(text.getBytes(StandardCharsets.UTF_8))).append('\n');
        }
        System.out.print(out);
        System.out.flush();
    }
}

package com.helpdesktriage.fallback;

import java.nio.charset.StandardCharsets;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * The fallback model's featurizer ({@code hashbag-v1}, see {@code tflite_fallback/FEATURIZER_SPEC.md}):
 * ticket text to fixed-length bucket ids, exactly as the Python reference computes them.
 *
 * <p>Plain Java 11+, no dependencies; usable from Kotlin as-is. Immutable and thread-safe.
 * Read the parameters from the model's {@code config.json} ({@code featurizer} object) and refuse
 * any {@code spec_version} other than {@link #SPEC_VERSION}.
 *
 * <pre>{@code
 * Featurizer f = new Featurizer(32768, 256, 2, 5, true);
 * int[] input = f.transform(text);   // int32[max_len], feed as [1, max_len] to the interpreter
 * }</pre>
 */
public final class Featurizer {
    public static final String SPEC_VERSION = "hashbag-v1";
    public static final int PAD_ID = 0;
    private static final int FNV_OFFSET_BASIS = 0x811C9DC5;
    private static final int FNV_PRIME = 0x01000193;

    private final int nBuckets;
    private final int maxLen;
    private final int charLo;
    private final int charHi;
    private final boolean wordBigrams;

    /**
     * @param nBuckets embedding rows; ids are in [1, nBuckets)
     * @param maxLen fixed output length of {@link #transform}
     * @param charLo smallest char n-gram length (0 disables char n-grams)
     * @param charHi largest char n-gram length (inclusive)
     * @param wordBigrams whether to emit word bigrams
     */
    public Featurizer(int nBuckets, int maxLen, int charLo, int charHi, boolean wordBigrams) {
        if (nBuckets < 2 || maxLen < 1 || charLo < 0 || (charLo > 0 && charHi < charLo)) {
            throw new IllegalArgumentException("invalid featurizer parameters");
        }
        this.nBuckets = nBuckets;
        this.maxLen = maxLen;
        this.charLo = charLo;
        this.charHi = charHi;
        this.wordBigrams = wordBigrams;
    }

    /** The default model's parameters (check them against config.json before relying on them). */
    public static Featurizer defaults() {
        return new Featurizer(32768, 256, 2, 5, true);
    }

    public int maxLen() {
        return maxLen;
    }

    /** FNV-1a 32-bit over bytes, returned as an unsigned value in a long. */
    public static long fnv1a32(byte[] data) {
        int h = FNV_OFFSET_BASIS;
        for (byte b : data) {
            h ^= (b & 0xFF);
            h *= FNV_PRIME; // int multiplication wraps mod 2^32, as the spec requires
        }
        return Integer.toUnsignedLong(h);
    }

    /** Step 1-2: NFKC, then each code point's full lowercase mapping on its own (no Final_Sigma). */
    public static String normalize(String text) {
        String nfkc = Normalizer.normalize(text, Normalizer.Form.NFKC);
        StringBuilder out = new StringBuilder(nfkc.length());
        nfkc.codePoints().forEach(cp -> out.append(new String(Character.toChars(cp)).toLowerCase(Locale.ROOT)));
        return out.toString();
    }

    /** Step 3: a word code point is a Letter, Mark or Number. */
    public static boolean isWordCodePoint(int cp) {
        switch (Character.getType(cp)) {
            case Character.UPPERCASE_LETTER:
            case Character.LOWERCASE_LETTER:
            case Character.TITLECASE_LETTER:
            case Character.MODIFIER_LETTER:
            case Character.OTHER_LETTER:
            case Character.NON_SPACING_MARK:
            case Character.COMBINING_SPACING_MARK:
            case Character.ENCLOSING_MARK:
            case Character.DECIMAL_DIGIT_NUMBER:
            case Character.LETTER_NUMBER:
            case Character.OTHER_NUMBER:
                return true;
            default:
                return false;
        }
    }

    /** Step 3: maximal runs of word code points of already normalised text. */
    public static List<String> tokenize(String normalized) {
        List<String> tokens = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        normalized.codePoints().forEach(cp -> {
            if (isWordCodePoint(cp)) {
                current.appendCodePoint(cp);
            } else if (current.length() > 0) {
                tokens.add(current.toString());
                current.setLength(0);
            }
        });
        if (current.length() > 0) {
            tokens.add(current.toString());
        }
        return tokens;
    }

    /** Step 4: feature strings in spec order (words, bigrams, char n-grams per token). */
    public List<String> features(String text) {
        List<String> tokens = tokenize(normalize(text));
        List<String> out = new ArrayList<>();
        for (String t : tokens) {
            out.add("w:" + t);
        }
        if (wordBigrams) {
            for (int i = 0; i + 1 < tokens.size(); i++) {
                out.add("b:" + tokens.get(i) + " " + tokens.get(i + 1));
            }
        }
        if (charLo > 0) {
            for (String t : tokens) {
                int[] p = ("<" + t + ">").codePoints().toArray();
                for (int n = charLo; n <= charHi; n++) {
                    for (int i = 0; i + n <= p.length; i++) {
                        out.add("c:" + new String(p, i, n));
                    }
                }
            }
        }
        return out;
    }

    /** Steps 5-6 without padding: bucket ids, truncated to maxLen. */
    public int[] ids(String text) {
        List<String> feats = features(text);
        int n = Math.min(feats.size(), maxLen);
        int[] out = new int[n];
        long m = nBuckets - 1L;
        for (int i = 0; i < n; i++) {
            out[i] = (int) (1 + fnv1a32(feats.get(i).getBytes(StandardCharsets.UTF_8)) % m);
        }
        return out;
    }

    /** The model input: ids padded with {@link #PAD_ID} to exactly maxLen. */
    public int[] transform(String text) {
        int[] ids = ids(text);
        int[] out = new int[maxLen];
        System.arraycopy(ids, 0, out, 0, ids.length);
        return out;
    }

    /** Unmodifiable view, handy from Kotlin. */
    public List<String> tokens(String text) {
        return Collections.unmodifiableList(tokenize(normalize(text)));
    }
}

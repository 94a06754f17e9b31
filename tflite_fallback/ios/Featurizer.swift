// The fallback model's featurizer (`hashbag-v1`, see tflite_fallback/FEATURIZER_SPEC.md):
// ticket text -> fixed-length bucket ids, exactly as the Python reference computes them.
//
// Pure Swift + Foundation (for NFKC), no other dependencies. A value type; safe to share.
// Read the parameters from the model's config.json (`featurizer` object) and refuse any
// `spec_version` other than `Featurizer.specVersion`.
//
//     let f = Featurizer()                 // the default model's parameters
//     let input: [Int32] = f.transform(text)   // [max_len], the CoreML/TFLite input row

import Foundation

public struct Featurizer {
    public static let specVersion = "hashbag-v1"
    public static let padId: Int32 = 0

    public let nBuckets: Int
    public let maxLen: Int
    public let charLo: Int
    public let charHi: Int
    public let wordBigrams: Bool

    public init(nBuckets: Int = 32768, maxLen: Int = 256, charLo: Int = 2, charHi: Int = 5,
                wordBigrams: Bool = true) {
        precondition(nBuckets >= 2 && maxLen >= 1 && charLo >= 0 && (charLo == 0 || charHi >= charLo))
        self.nBuckets = nBuckets
        self.maxLen = maxLen
        self.charLo = charLo
        self.charHi = charHi
        self.wordBigrams = wordBigrams
    }

    /// FNV-1a 32-bit over bytes (wrapping multiplication, as the spec requires).
    public static func fnv1a32<S: Sequence>(_ bytes: S) -> UInt32 where S.Element == UInt8 {
        var h: UInt32 = 0x811C_9DC5
        for b in bytes {
            h ^= UInt32(b)
            h = h &* 0x0100_0193
        }
        return h
    }

    /// Steps 1-2: NFKC, then each scalar's full lowercase mapping on its own (no Final_Sigma).
    public static func normalize(_ text: String) -> String {
        let nfkc = text.precomposedStringWithCompatibilityMapping
        var out = String.UnicodeScalarView()
        for scalar in nfkc.unicodeScalars {
            out.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
        }
        return String(out)
    }

    /// Step 3: a word scalar is a Letter, Mark or Number.
    public static func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .nonspacingMark, .spacingMark, .enclosingMark,
             .decimalNumber, .letterNumber, .otherNumber:
            return true
        default:
            return false
        }
    }

    /// Step 3: maximal runs of word scalars of already normalised text.
    public static func tokenize(_ normalized: String) -> [[Unicode.Scalar]] {
        var tokens: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        for scalar in normalized.unicodeScalars {
            if isWordScalar(scalar) {
                current.append(scalar)
            } else if !current.isEmpty {
                tokens.append(current)
                current.removeAll()
            }
        }
        if !current.isEmpty { tokens.append(current) }
        return tokens
    }

    public func tokens(_ text: String) -> [String] {
        Featurizer.tokenize(Featurizer.normalize(text)).map(Featurizer.string)
    }

    static func string(_ scalars: [Unicode.Scalar]) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }

    /// Step 4: feature strings (as UTF-8 bytes) in spec order: words, bigrams, char n-grams.
    public func features(_ text: String) -> [[UInt8]] {
        let tokens = Featurizer.tokenize(Featurizer.normalize(text)).map(Featurizer.string)
        var out: [[UInt8]] = []
        for t in tokens { out.append(Array(("w:" + t).utf8)) }
        if wordBigrams && tokens.count > 1 {
            for i in 0..<(tokens.count - 1) { out.append(Array(("b:" + tokens[i] + " " + tokens[i + 1]).utf8)) }
        }
        if charLo > 0 {
            for t in tokens {
                let p: [Unicode.Scalar] = ["<"] + Array(t.unicodeScalars) + [">"]
                for n in charLo...charHi where n <= p.count {
                    for i in 0...(p.count - n) {
                        out.append(Array("c:".utf8) + Array(Featurizer.string(Array(p[i..<(i + n)])).utf8))
                    }
                }
            }
        }
        return out
    }

    /// Steps 5-6 without padding: bucket ids, truncated to maxLen.
    public func ids(_ text: String) -> [Int32] {
        let m = UInt32(nBuckets - 1)
        return features(text).prefix(maxLen).map { Int32(1 + Featurizer.fnv1a32($0) % m) }
    }

    /// The model input: ids padded with `padId` to exactly maxLen.
    public func transform(_ text: String) -> [Int32] {
        let ids = self.ids(text)
        return ids + Array(repeating: Featurizer.padId, count: maxLen - ids.count)
    }
}

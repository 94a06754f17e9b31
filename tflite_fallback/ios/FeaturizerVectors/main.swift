// Test harness: one hex-encoded UTF-8 text per stdin line; prints per line
// hex(normalized) TAB hex(token),... TAB id,... TAB fnv1a32(text bytes).
// Arguments: nBuckets maxLen charLo charHi wordBigrams. Compared with vectors.json by
// tests/client/test_featurizer_ports.py (or by hand: see docs/ios.md).

import Foundation

func hex(_ s: String) -> String { s.utf8.map { String(format: "%02x", $0) }.joined() }

func unhex(_ h: String) -> String {
    var bytes: [UInt8] = []
    var it = h.makeIterator()
    while let a = it.next(), let b = it.next() { bytes.append(UInt8(String([a, b]), radix: 16)!) }
    return String(decoding: bytes, as: UTF8.self)
}

let a = CommandLine.arguments
let f = Featurizer(nBuckets: Int(a[1])!, maxLen: Int(a[2])!, charLo: Int(a[3])!, charHi: Int(a[4])!,
                   wordBigrams: a[5] == "true")
var out = ""
while let line = readLine(strippingNewline: true) {
    let text = unhex(line.trimmingCharacters(in: .whitespaces))
    let tokens = f.tokens(text).map(hex).joined(separator: ",")
    let ids = f.ids(text).map { String($0) }.joined(separator: ",")
    out += "\(hex(Featurizer.normalize(text)))\t\(tokens)\t\(ids)\t\(Featurizer.fnv1a32(Array(text.utf8)))\n"
}
print(out, terminator: "")

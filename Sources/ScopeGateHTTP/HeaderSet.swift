/// A fixed set of header names to look for in one pass over a request's fields, built once.
///
/// ```swift
/// static let wanted = HeaderSet(["X-Original-URI", "Authorization"])
/// let found = request.headers.collect(Self.wanted)
/// if found[0].count > 1 { … }   // X-Original-URI repeated
/// ```
public struct HeaderSet: Sendable {
    /// The names as given, in order; a name's position is its index in a ``CollectedHeaders``.
    public let names: [String]
    private let lowered: [[UInt8]]

    /// A set of names (any case; duplicates are kept once).
    public init(_ names: [String]) {
        var unique: [String] = []
        for name in names where !unique.contains(where: { $0.lowercased() == name.lowercased() }) { unique.append(name) }
        self.names = unique
        self.lowered = unique.map { Array($0.lowercased().utf8) }
    }

    /// The index of `name` (any case), if the set has it.
    public func index(of name: String) -> Int? {
        let wanted = Array(name.lowercased().utf8)
        return lowered.firstIndex(of: wanted)
    }

    /// The index of a stored, lower-case field name, compared by length first.
    func index(ofLowercased name: ArraySlice<UInt8>) -> Int? {
        for (index, candidate) in lowered.enumerated() where candidate.count == name.count && candidate.elementsEqual(name) {
            return index
        }
        return nil
    }
}

/// For each name of a ``HeaderSet``, the first value and how many times it appeared.
public struct CollectedHeaders: Sendable {
    /// One name's findings.
    public struct Field: Sendable {
        /// The first value's bytes (a slice of the request's header buffer), nil when absent.
        public var first: ArraySlice<UInt8>?
        /// How many fields had the name.
        public var count = 0
    }

    private var fields: [Field]

    init(count: Int) {
        fields = Array(repeating: Field(), count: count)
    }

    /// The findings for the name at `index` in the set.
    public subscript(index: Int) -> Field {
        get { fields[index] }
        set { fields[index] = newValue }
    }
}

extension HTTPHeaders {
    /// The fields named in `set`, found in one pass without copying a value.
    public func collect(_ set: HeaderSet) -> CollectedHeaders {
        var found = CollectedHeaders(count: set.names.count)
        forEachField { name, value in
            guard let index = set.index(ofLowercased: name) else { return }
            if found[index].count == 0 { found[index].first = value }
            found[index].count += 1
        }
        return found
    }
}

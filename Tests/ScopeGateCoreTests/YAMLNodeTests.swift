import Testing
@testable import ScopeGateCore

@Suite struct YAMLNodeTests {
    func compose(_ text: String) throws(YAMLNode.Failure) -> YAMLNode? { try YAMLNode.compose(text) }

    @Test func keepsScalarsAsWrittenWithStyleAndPosition() throws {
        let root = try #require(try compose("a: true\nb: \"true\"\nc: |\n  text\nlist:\n  - x\n  - 'y'\n"))
        guard case .mapping(let mapping) = root else { Issue.record("not a mapping"); return }
        let values = Dictionary(uniqueKeysWithValues: mapping.map { ($0.key.scalar!.string, $0.value) })
        #expect(values["a"]?.scalar?.string == "true" && values["a"]?.scalar?.style == .plain)
        #expect(values["b"]?.scalar?.string == "true" && values["b"]?.scalar?.style == .quoted)
        #expect(values["c"]?.scalar?.string == "text\n" && values["c"]?.scalar?.style == .block)
        guard case .sequence(let list)? = values["list"] else { Issue.record("not a list"); return }
        #expect(list.map { $0.scalar?.string } == ["x", "y"])
        #expect(list.items[1].mark.line == 7 && list.items[1].mark.column == 5)
    }

    @Test func anEmptyTextHasNoDocument() throws {
        #expect(try compose("") == nil)
        #expect(try compose("# only a comment\n") == nil)
    }

    @Test(arguments: [
        ("a: 1\na: 2\n", "key \"a\" appears more than once in this mapping", 2),
        ("a: 1\n---\nb: 2\n", "the file holds more than one YAML document", 3),
        ("a: [1, 2\n", "did not find expected ',' or ']'", 2),
        ("a: *missing\n", "found undefined alias", 1),
        (String(repeating: "[", count: 100) + String(repeating: "]", count: 100), "nested more than 64 deep", 1),
    ])
    func refusesWithAPosition(text: String, message: String, line: Int) {
        do {
            _ = try compose(text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.message.contains(message), "\(error.message)")
            #expect(error.mark?.line == line, "\(error.message)")
        }
    }

    @Test func aliasesShareTheirNodeAndCannotLoop() throws {
        let root = try #require(try compose("base: &s [me, items]\nother: *s\n"))
        guard case .mapping(let mapping) = root, case .sequence(let other) = mapping.pairs[1].value else {
            Issue.record("unexpected shape")
            return
        }
        #expect(other.map { $0.scalar?.string } == ["me", "items"])
        // An alias inside its own anchor's node would expand forever; the depth bound stops it.
        #expect(throws: YAMLNode.Failure.self) { try compose("a: &x [*x]\n") }
    }
}

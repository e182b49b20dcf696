import Testing
import ScopeGateHTTP

@Suite struct IPAddressTests {
    @Test(arguments: [
        ("127.0.0.1", "127.0.0.1"), ("::1", "0:0:0:0:0:0:0:1"), ("::ffff:10.0.0.1", "10.0.0.1"),
        ("fe80::1:2", "fe80:0:0:0:0:0:1:2"), ("2001:db8::", "2001:db8:0:0:0:0:0:0"),
    ])
    func parses(text: String, canonical: String) throws {
        #expect(try #require(IPAddress(text)).description == canonical)
    }

    @Test(arguments: ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1::2::3", "12345::", "a.b.c.d", "localhost"])
    func refuses(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test func matchesCIDRRanges() throws {
        let loopback = try #require(CIDRRange("127.0.0.0/8"))
        #expect(loopback.contains(try #require(IPAddress("127.1.2.3"))))
        #expect(!loopback.contains(try #require(IPAddress("128.0.0.1"))))
        #expect(!loopback.contains(try #require(IPAddress("::1"))))
        let v6 = try #require(CIDRRange("::1"))
        #expect(v6.prefixLength == 128)
        #expect(v6.contains(try #require(IPAddress("::1"))))
        let net = try #require(CIDRRange("10.1.0.0/20"))
        #expect(net.contains(try #require(IPAddress("10.1.15.255"))))
        #expect(!net.contains(try #require(IPAddress("10.1.16.0"))))
        #expect(try #require(CIDRRange("0.0.0.0/0")).contains(try #require(IPAddress("8.8.8.8"))))
        #expect(CIDRRange("10.0.0.0/33") == nil)
        #expect(CIDRRange("10.0.0.0/") == nil)
        #expect(CIDRRange("10.0.0.0/-1") == nil)
    }

    @Test func matchesIPv6PrefixesAtEveryBoundary() throws {
        let net = try #require(CIDRRange("2001:db8:abcd:1200::/56"))
        #expect(net.contains(try #require(IPAddress("2001:db8:abcd:12ff:ffff::1"))))
        #expect(!net.contains(try #require(IPAddress("2001:db8:abcd:1300::"))))
        #expect(!net.contains(try #require(IPAddress("10.0.0.1"))))
        #expect(try #require(CIDRRange("::/0")).contains(try #require(IPAddress("ffff::"))))
        #expect(try #require(CIDRRange("::/0")).contains(try #require(IPAddress("::ffff:1.2.3.4"))) == false)
        let odd = try #require(CIDRRange("192.168.1.128/25"))
        #expect(odd.contains(try #require(IPAddress("192.168.1.200"))))
        #expect(!odd.contains(try #require(IPAddress("192.168.1.127"))))
    }

    @Test func keepsItsBytesAndUnmapsIPv4() throws {
        let mapped = try #require(IPAddress(bytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 10, 0, 0, 1]))
        #expect(mapped.isIPv4 && mapped.bytes == [10, 0, 0, 1] && mapped == IPAddress("10.0.0.1"))
        let v6 = try #require(IPAddress("2001:db8::ff"))
        #expect(v6.bytes == [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff])
        #expect(IPAddress(bytes: [1, 2, 3]) == nil)
    }
}

import Foundation
import ScopeGateStore
import Testing
import ScopeGateApp
import ScopeGateHTTP
import ScopeGateTesting

@Suite struct LoginThrottleTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)
    let attacker = IPAddress("203.0.113.7")!
    let user = IPAddress("198.51.100.20")!

    @Test func backsOffExponentiallyPerPairAfterFreeFailures() {
        let throttle = LoginThrottle()
        for index in 0..<4 {
            throttle.recordFailure(username: "bob", address: attacker, now: start + Double(index))
            #expect(throttle.retryAfter(username: "bob", address: attacker, now: start + Double(index)) == nil)
        }
        var now = start + 4
        var expected: TimeInterval = 1
        for _ in 0..<12 {
            throttle.recordFailure(username: "bob", address: attacker, now: now)
            #expect(throttle.retryAfter(username: "bob", address: attacker, now: now) == min(expected, 900))
            now = now + min(expected, 900)
            #expect(throttle.retryAfter(username: "bob", address: attacker, now: now) == nil)
            expected *= 2
        }
    }

    @Test func aStrangerCannotLockOutARealUserForLong() {
        let throttle = LoginThrottle()
        // Many addresses guessing one account: the user name itself waits at most a minute.
        for index in 0..<200 {
            throttle.recordFailure(username: "bob", address: IPAddress("203.0.113.\(index % 250)")!, now: start)
        }
        let wait = throttle.retryAfter(username: "bob", address: user, now: start)
        #expect(wait == 60)
        #expect(throttle.retryAfter(username: "bob", address: user, now: start + 60) == nil)
    }

    @Test func addressesThatGuessManyNamesWait() {
        let throttle = LoginThrottle()
        for index in 0..<20 { throttle.recordFailure(username: "user\(index)", address: attacker, now: start) }
        #expect(throttle.retryAfter(username: "someone-new", address: attacker, now: start) == 1)
        #expect(throttle.retryAfter(username: "someone-new", address: user, now: start) == nil)
    }

    @Test func successClearsThePairButNotTheAddress() {
        let throttle = LoginThrottle()
        for _ in 0..<5 { throttle.recordFailure(username: "bob", address: user, now: start) }
        #expect(throttle.retryAfter(username: "bob", address: user, now: start) != nil)
        throttle.recordSuccess(username: "bob", address: user)
        #expect(throttle.retryAfter(username: "bob", address: user, now: start) == nil)
        for index in 0..<20 { throttle.recordFailure(username: "n\(index)", address: attacker, now: start) }
        throttle.recordSuccess(username: "attackers-own-account", address: attacker)
        #expect(throttle.retryAfter(username: "x", address: attacker, now: start) != nil)
    }

    @Test func firstBanAndCapsAreTheConfiguredOnes() {
        var limits = LoginThrottle.Limits()
        limits.userFreeFailures = 3
        limits.firstBan = 7
        limits.maximumUserDelay = 30
        let throttle = LoginThrottle(limits: limits)
        var waits: [TimeInterval?] = []
        for index in 0..<6 {
            throttle.recordFailure(username: "bob", address: IPAddress("203.0.113.\(index)")!, now: start)
            waits.append(throttle.retryAfter(username: "bob", address: user, now: start))
        }
        #expect(waits == [nil, nil, 7, 14, 28, 30])
    }

    @Test func forgetsOldFailuresAndStaysBounded() {
        var limits = LoginThrottle.Limits()
        limits.capacity = 100
        let throttle = LoginThrottle(limits: limits)
        for _ in 0..<4 { throttle.recordFailure(username: "bob", address: user, now: start) }
        throttle.recordFailure(username: "bob", address: user, now: start + 16 * 60)
        #expect(throttle.retryAfter(username: "bob", address: user, now: start + 16 * 60) == nil)
        for index in 0..<1000 { throttle.recordFailure(username: "u\(index)", address: nil, now: start + Double(index)) }
    }

    @Test func tokenEndpointAnswers429WithoutCheckingThePassword() throws {
        let clock = TestClock(start: Date())
        let daemon = try TestDaemon(clock: clock.read)
        for _ in 0..<5 { #expect(try daemon.login("carol", "wrong").status == 400) }
        let throttled = try daemon.login("carol", "carolpw")
        #expect(throttled.status == 429)
        #expect(throttled.header("Retry-After") == "1")
        #expect(throttled.text == #"{"detail":"Too many failed logins; retry in 1 second"}"#)
        // Another user from the same address is not held up.
        #expect(try daemon.login("bob", "builder").status == 200)
        clock.advance(by: 1)
        #expect(try daemon.login("carol", "carolpw").status == 200)
    }

    @Test func theEndpointFollowsConfiguredLimits() throws {
        let clock = TestClock(start: Date())
        let daemon = try TestDaemon(
            configure: {
                $0.loginLimits.pairFreeFailures = 2
                $0.loginLimits.firstBan = 5
                $0.loginLimits.maximumDelay = 20
                $0.loginLimits.memory = 100
            }, clock: clock.read)
        #expect(try daemon.login("carol", "wrong").status == 400)
        #expect(try daemon.login("carol", "wrong").status == 400)
        // The attempt after the second failure is the first refused, even with the right password.
        for (wait, text) in [(5, "5 seconds"), (10, "10 seconds"), (20, "20 seconds"), (20, "20 seconds")] {
            let throttled = try daemon.login("carol", "carolpw")
            #expect(throttled.status == 429)
            #expect(throttled.header("Retry-After") == "\(wait)")
            #expect(throttled.text == #"{"detail":"Too many failed logins; retry in \#(text)"}"#)
            clock.advance(by: TimeInterval(wait) - 1)
            #expect(try daemon.login("carol", "carolpw").status == 429, "one second early")
            clock.advance(by: 1)
            #expect(try daemon.login("carol", "wrong").status == 400)
        }
        // Past the window the failures are forgotten: one more is free again.
        clock.advance(by: 101)
        #expect(try daemon.login("carol", "wrong").status == 400)
        #expect(try daemon.login("carol", "carolpw").status == 200)
    }

    @Test func behindATrustedProxyTheForwardedClientIsThrottled() throws {
        let daemon = try TestDaemon()
        let post = { (client: String, password: String) in
            try sendRequest(
                port: daemon.port, method: "POST", target: "/token",
                headers: [("Content-Type", "application/x-www-form-urlencoded"), ("X-Forwarded-For", "10.9.9.9, \(client)")],
                body: formBody([("username", "carol"), ("password", password)]))
        }
        for _ in 0..<5 { #expect(try post("203.0.113.7", "wrong").status == 400) }
        #expect(try post("203.0.113.7", "carolpw").status == 429)
        #expect(try post("198.51.100.20", "carolpw").status == 200)
    }

    /// With a store, a ban outlives the throttle: a new one over the same store (a restart) still refuses,
    /// and a success clears the pair there too.
    @Test func bansAreKeptInTheStore() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("scopegate-throttle-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("scopegate.db").path
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let address = IPAddress("192.0.2.7")
        let first = LoginThrottle(store: try SQLiteStore(path: path), now: now)
        for _ in 0..<5 { first.recordFailure(username: "bob", address: address, now: now) }
        let wait = try #require(first.retryAfter(username: "bob", address: address, now: now))
        first.flush()
        let restarted = LoginThrottle(store: try SQLiteStore(path: path), now: now + 0.5)
        #expect(restarted.retryAfter(username: "bob", address: address, now: now + 0.5) == wait - 0.5)
        #expect(restarted.retryAfter(username: "bob", address: IPAddress("192.0.2.8"), now: now + 0.5) == nil)
        restarted.recordSuccess(username: "bob", address: address)
        restarted.flush()
        // The address's own count stays (a success never resets it); the pair's and the user's went.
        let again = LoginThrottle(store: try SQLiteStore(path: path), now: now + 0.5)
        #expect(again.retryAfter(username: "bob", address: address, now: now + 0.5) == nil)
        for _ in 0..<16 { again.recordFailure(username: "carol", address: address, now: now + 1) }
        again.flush()
        let afterAddressFailures = LoginThrottle(store: try SQLiteStore(path: path), now: now + 1)
        #expect(afterAddressFailures.retryAfter(username: "dave", address: address, now: now + 1) != nil)
    }
}

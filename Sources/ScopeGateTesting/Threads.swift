import Foundation

/// The threads of process `pid` (`"self"` for this one) with their kernel names and nice values, read from
/// `/proc`: what a test checks scheduling priorities with.
public func threadNiceness(pid: String = "self") -> [(name: String, nice: Int)] {
    let tasks = "/proc/\(pid)/task"
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: tasks)) ?? []
    return entries.compactMap { task -> (String, Int)? in
        guard let stat = try? String(contentsOfFile: "\(tasks)/\(task)/stat", encoding: .utf8),
            let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")")
        else { return nil }
        // After the name: state is field 3, nice is field 19.
        let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
        guard fields.count > 16, let nice = Int(fields[16]) else { return nil }
        return (String(stat[stat.index(after: open)..<close]), nice)
    }
}

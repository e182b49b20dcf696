public import Dispatch
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// Calls `onChange` shortly after files change on disk, through inotify on their directories, so the usual
/// ways of replacing a file are all seen: written in place, renamed over (editors, `mv`), or swapped
/// through a symbolic link (Kubernetes ConfigMap volumes rename their `..data` link). Events that arrive
/// together are coalesced into one call.
public final class FileWatcher: @unchecked Sendable {
    // @unchecked: `pending` is only touched on `queue`; the other stored properties are set once in init.
    private let descriptor: Int32
    private let source: any DispatchSourceRead
    private let queue = DispatchQueue(label: "scopegate.file-watcher")
    private let names: [Int32: Set<String>]
    private let delay: DispatchTimeInterval
    private let onChange: @Sendable () -> Void
    private var pending: DispatchWorkItem?

    /// Why watching could not start.
    public struct WatchError: Error, CustomStringConvertible {
        /// What failed.
        public let description: String
    }

    /// Watches `paths`; `onChange` runs on a private queue `delay` after the last of a burst of events.
    public init(paths: [String], delay: DispatchTimeInterval = .milliseconds(150), onChange: @escaping @Sendable () -> Void) throws(WatchError) {
        #if os(Linux)
        let descriptor = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard descriptor >= 0 else { throw WatchError(description: "inotify_init1: \(String(cString: strerror(errno)))") }
        var names: [Int32: Set<String>] = [:]
        let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE | IN_ATTRIB)
        for path in paths {
            let url = URL(fileURLWithPath: path)
            let directory = url.deletingLastPathComponent().path
            let watch = inotify_add_watch(descriptor, directory, mask)
            guard watch >= 0 else {
                let reason = String(cString: strerror(errno))
                close(descriptor)
                throw WatchError(description: "cannot watch \(directory): \(reason)")
            }
            names[watch, default: []].insert(url.lastPathComponent)
        }
        self.descriptor = descriptor
        self.names = names
        self.delay = delay
        self.onChange = onChange
        self.source = DispatchSource.makeReadSource(fileDescriptor: descriptor, queue: queue)
        source.setEventHandler { [weak self] in self?.drain() }
        source.setCancelHandler { close(descriptor) }
        source.resume()
        #else
        throw WatchError(description: "file watching needs inotify (Linux)")
        #endif
    }

    deinit {
        source.cancel()
    }

    /// Stops watching.
    public func cancel() {
        source.cancel()
    }

    private func drain() {
        #if os(Linux)
        var relevant = false
        var buffer = [UInt8](repeating: 0, count: 8192)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            var offset = 0
            let headerSize = MemoryLayout<inotify_event>.size
            while offset + headerSize <= count {
                let watch = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: Int32.self) }
                let nameLength = Int(buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self) })
                let nameBytes = buffer[(offset + headerSize)..<min(count, offset + headerSize + nameLength)].prefix { $0 != 0 }
                let name = String(decoding: nameBytes, as: UTF8.self)
                // A Kubernetes volume swaps its files by renaming the "..data" link.
                if names[watch]?.contains(name) == true || name.hasPrefix("..") { relevant = true }
                offset += headerSize + nameLength
            }
        }
        guard relevant else { return }
        pending?.cancel()
        let work = DispatchWorkItem { [onChange] in onChange() }
        pending = work
        queue.asyncAfter(deadline: .now() + delay, execute: work)
        #endif
    }
}

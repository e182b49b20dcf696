"""ScopeGate benchmark driver (see bench/run). Every figure is printed next to a reference measured in the
same run on the same machine; the ratios are what count on a shared, noisy machine."""
import atexit, json, os, re, shutil, signal, socket, statistics, subprocess, sys, tempfile, time, urllib.parse, urllib.request

BINARY, SECONDS, REPEATS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
CORES = os.cpu_count() or 2
TICK = os.sysconf("SC_CLK_TCK")
WORK = tempfile.mkdtemp(prefix="scopegate-bench-")
# The servers' logs grow to gigabytes in a run: never leave them behind.
atexit.register(shutil.rmtree, WORK, ignore_errors=True)
# Every server the driver starts, stopped at exit however the run ends.
STARTED = []
atexit.register(lambda: [process.kill() for process in STARTED if process.poll() is None])


PORTS = set()


def free_port():
    """A loopback port nothing listens on, never one handed out before in this run (the kernel may offer a
    port again once its probe socket is closed)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in PORTS:
            PORTS.add(port)
            return port


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except FileNotFoundError:
            pass
    return total / TICK


def memory_mb(pid):
    """Resident memory: the whole, the anonymous part (heap, stacks) and the file-backed part (the mapped code
    of the binary and its libraries, shared with the page cache)."""
    fields = {}
    for line in open(f"/proc/{pid}/status"):
        name, _, value = line.partition(":")
        if name in ("VmRSS", "RssAnon", "RssFile"):
            fields[name] = int(value.split()[0]) / 1024
    return fields


def rss_mb(pid):
    return memory_mb(pid).get("VmRSS", 0.0)


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [pid] + [int(p) for p in out]


def wait_http(url, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except Exception:
            time.sleep(0.005)
    raise SystemExit(f"{url} did not answer")


def wrk(url, headers=(), connections=64, seconds=SECONDS, pids=(), script=()):
    """`script`: a wrk Lua script and its arguments."""
    args = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for header in headers:
        args += ["-H", header]
    if script:
        args += ["-s", script[0]]
    before = cpu_seconds(pids)
    out = subprocess.run(args + [url, *(["--", *script[1:]] if script else [])], capture_output=True, text=True).stdout
    cpu = cpu_seconds(pids) - before
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def latency(label):
        match = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)", out, re.M)
        value, unit = float(match.group(1)), match.group(2)
        return value * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    return {"rps": requests / seconds, "p50": latency("50%"), "p99": latency("99%"),
            "cpu_us": cpu / max(requests, 1) * 1e6, "errors": int(non2xx.group(1)) if non2xx else 0}


def median_of(runs, key):
    return statistics.median(run[key] for run in runs)


def client_credentials_script(path, authorization):
    """A wrk script that asks /token for client_credentials tokens, authenticating with Basic."""
    with open(path, "w") as f:
        f.write(f'wrk.method = "POST"\nwrk.body = "grant_type=client_credentials&scope=me"\n'
                f'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\nwrk.headers["Authorization"] = "{authorization}"\n')
    return path


def start_scopegate(policy, port, options=(), keys=None, users=None):
    """ScopeGate as users run it (JSON log lines, the access log on, at level info, its default store in a
    state folder of its own) unless `options` say otherwise; its standard error goes to a file, as nginx's
    access log does. With `keys`, a keys file signs instead of the HS256 secret."""
    signing = ["--keys", keys] if keys else ["--secret-file", f"{WORK}/secret"]
    state = []
    if "--store" not in options and "--state-dir" not in options:
        os.makedirs(f"{WORK}/state-{port}")
        state = ["--state-dir", f"{WORK}/state-{port}"]
    args = [BINARY, "serve", "--policy", policy, "--users", users or f"{WORK}/users.yaml", *signing, *state,
            "--port", str(port), "--threads", str(CORES), "--max-connections-per-ip", "0", *options]
    started = time.time()
    log = open(f"{WORK}/scopegate-{port}.log", "w")
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log)
    STARTED.append(process)
    wait_http(f"http://127.0.0.1:{port}/healthz")
    return process, (time.time() - started) * 1000


def start_nginx(config_body, name):
    directory = f"{WORK}/{name}"
    os.makedirs(directory)
    with open(f"{directory}/nginx.conf", "w") as f:
        f.write(f"""worker_processes {CORES}; daemon off; pid {directory}/nginx.pid; error_log {directory}/error.log error;
events {{ worker_connections 4096; }}
http {{ access_log off; client_body_temp_path {directory}/b; proxy_temp_path {directory}/p; fastcgi_temp_path {directory}/f;
uwsgi_temp_path {directory}/u; scgi_temp_path {directory}/s; {config_body} }}""")
    process = subprocess.Popen(["/usr/sbin/nginx", "-p", directory, "-c", f"{directory}/nginx.conf", "-e", f"{directory}/error.log"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    STARTED.append(process)
    return process


def start_postgres():
    """Debian's PostgreSQL with its default settings in a folder of its own (as the postgres user when root,
    since PostgreSQL refuses root), stopped at exit by the postmaster's pid; the URL of a new database."""
    import glob
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not binaries:
        raise SystemExit("PostgreSQL is not installed (apt-get install postgresql)")
    bin_dir = os.path.dirname(binaries[-1])
    folder = tempfile.mkdtemp(prefix="scopegate-bench-postgres-")
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
    if os.getuid() == 0:
        shutil.chown(folder, "postgres")
    subprocess.run(as_postgres + [f"{bin_dir}/initdb", "-D", f"{folder}/data", "-U", "postgres", "-A", "trust", "-E", "UTF8"],
                   check=True, capture_output=True)
    port = free_port()
    subprocess.Popen(as_postgres + [f"{bin_dir}/postgres", "-D", f"{folder}/data", "-p", str(port), "-k", folder,
                                    "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop_postgres():
        try:
            os.kill(int(open(f"{folder}/data/postmaster.pid").readline()), signal.SIGINT)
            for _ in range(100):
                if not os.path.exists(f"{folder}/data/postmaster.pid"):
                    break
                time.sleep(0.05)
        except (FileNotFoundError, ValueError, ProcessLookupError):
            pass
        shutil.rmtree(folder, ignore_errors=True)
    atexit.register(stop_postgres)
    deadline = time.time() + 30
    while subprocess.run([f"{bin_dir}/pg_isready", "-h", "127.0.0.1", "-p", str(port), "-q"]).returncode != 0:
        if time.time() > deadline:
            raise SystemExit("postgres did not start")
        time.sleep(0.05)
    subprocess.run([f"{bin_dir}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "scopegate"], check=True)
    return f"postgres://postgres@127.0.0.1:{port}/scopegate"


def post(connection, path, fields):
    connection.request("POST", path, urllib.parse.urlencode(fields), {"Content-Type": "application/x-www-form-urlencoded"})
    response = connection.getresponse()
    return response.status, response.read()


def auth_status(connection, token):
    connection.request("GET", "/auth", headers={"Authorization": f"Bearer {token}", "X-Original-URI": "/users/me/items/",
                                                "X-Original-Method": "GET"})
    response = connection.getresponse()
    response.read()
    return response.status


def propagation_ms(first_port, second_port, count):
    """Revocations made on one replica (`/revoke`), each timed from its answer until the other replica refuses
    the token: milliseconds, sorted."""
    import http.client
    first, second = http.client.HTTPConnection("127.0.0.1", first_port), http.client.HTTPConnection("127.0.0.1", second_port)
    latencies = []
    for _ in range(count):
        status, body = post(first, "/token", {"username": "refresher", "password": "refreshpassword", "scope": "me items"})
        token = json.loads(body)["access_token"]
        if auth_status(second, token) != 200:
            raise SystemExit("the second replica refused a fresh token")
        status, _ = post(first, "/revoke", {"token": token})
        started = time.perf_counter()
        if status != 200:
            raise SystemExit(f"/revoke answered {status}")
        while auth_status(second, token) != 401:
            if time.perf_counter() - started > 5:
                raise SystemExit("a revocation did not reach the other replica within 5 s")
        latencies.append((time.perf_counter() - started) * 1000)
    return sorted(latencies)


# Each wrk thread walks its half of a token file, one token per request, so with a file larger than the
# verified-token cache (10,000 entries, VerifiedTokenCache) every request is a miss: the token is decoded,
# verified and looked up again.
TOKEN_POOL_SCRIPT = """
local threads = 0
function setup(thread) thread:set("half", threads); threads = threads + 1 end
function init(args)
  tokens = {}
  for line in io.lines(args[1]) do tokens[#tokens + 1] = "Bearer " .. line end
  index = half * math.floor(#tokens / 2)
  wrk.headers["X-Original-URI"] = "/users/me/items/"
  wrk.headers["X-Original-Method"] = "GET"
end
function request()
  index = index % #tokens + 1
  wrk.headers["Authorization"] = tokens[index]
  return wrk.format("GET", "/auth")
end
"""
POOL_SIZE = 12_000
# Refresh-token redemptions with two wrk threads: each takes its half of the tokens in the file and spends
# one per request; every answer's successor goes back into the thread's pool (one connection, one chain).
# wrk calls the first thread's request() once before it connects (to count pipelined requests), so that
# thread takes one token more, which that call spends.
REFRESH_SCRIPT = """
local threads = 0
function setup(thread) thread:set("half", threads); threads = threads + 1 end
function init(args)
  pool = {}
  local all = {}
  for line in io.lines(args[1]) do all[#all + 1] = line end
  local share = math.floor((#all - 1) / 2)
  local first, last = 1, share + 1
  if half == 1 then first, last = share + 2, 2 * share + 1 end
  for i = first, last do pool[#pool + 1] = all[i] end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
function request()
  local token = table.remove(pool) or "none-left"
  return wrk.format(nil, "/token", nil, "grant_type=refresh_token&refresh_token=" .. token)
end
function response(status, headers, body)
  local token = string.match(body, '"refresh_token":"([^"]+)"')
  if token then pool[#pool + 1] = token end
end
"""
REFRESH_CLIENTS = 32


def sign_tokens(job):
    """Tokens `first..<last` of a pool (run in worker processes: PyJWT signs in Python's thread)."""
    import jwt
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    key_text, algorithm, kid, expires, first, last = job
    key = key_text.encode() if algorithm == "HS256" else load_pem_private_key(key_text.encode(), None)
    headers = {"kid": kid} if kid else None
    return [jwt.encode({"sub": "bench", "scopes": ["me", "items"], "exp": expires, "jti": str(index)}, key, algorithm=algorithm,
                       headers=headers) for index in range(first, last)]


def token_pool(name, key_text, algorithm, kid=None):
    """A file of POOL_SIZE distinct tokens for the bench user, signed with PyJWT as another issuer would."""
    import multiprocessing
    expires = int(time.time()) + 3600
    step = POOL_SIZE // CORES + 1
    jobs = [(key_text, algorithm, kid, expires, first, min(first + step, POOL_SIZE)) for first in range(0, POOL_SIZE, step)]
    with multiprocessing.Pool(CORES) as pool:
        tokens = [token for chunk in pool.map(sign_tokens, jobs) for token in chunk]
    path = f"{WORK}/pool-{name}.txt"
    with open(path, "w") as f:
        f.write("".join(token + "\n" for token in tokens))
    return path


def openssl_verify_rates(seconds):
    """Verifications per second on one core, as `openssl speed` measures them, by JWS algorithm."""
    out = subprocess.run(["openssl", "speed", "-seconds", str(seconds), "-mr", "rsa2048", "ecdsap256", "ed25519"],
                         capture_output=True, text=True).stdout
    rates = {}
    for line in out.splitlines():
        fields = line.split(":")
        if line.startswith("+F2:") and fields[2] == "2048":
            rates["RS256"] = float(fields[-1])
        elif line.startswith("+F4:") and fields[2] == "256":
            rates["ES256"] = float(fields[-1])
        elif line.startswith("+F6:") and fields[3] == "Ed25519":
            rates["EdDSA"] = float(fields[-1])
    return rates


def stop(process):
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main():
    secret = os.urandom(32).hex()
    open(f"{WORK}/secret", "w").write(secret)
    os.chmod(f"{WORK}/secret", 0o600)
    cost12 = subprocess.run([BINARY, "hash-password", "--cost", "12"], input="benchpassword\n", capture_output=True, text=True).stdout.strip()
    open(f"{WORK}/users.yaml", "w").write(f'users:\n  bench:\n    password_hash: "{cost12}"\n    scopes: [me, items]\n')
    small = f"{WORK}/policy-5.yaml"
    open(small, "w").write(open("policies/demo.yaml").read())
    large = f"{WORK}/policy-10000.yaml"
    extra = "".join(f"  - path: /service{index}/v1/{{id}}/items\n    scopes: [s{index}]\n" for index in range(10_000))
    with open(large, "w") as f:
        # The demo policy with 10,000 more rules at the head of its rules list.
        f.write(open("policies/demo.yaml").read().replace("\nrules:\n", "\nrules:\n" + extra, 1))

    # 1,000 hosts with 10 rules each, beside the demo policy's rules for every host.
    hosts_policy = f"{WORK}/policy-hosts.yaml"
    host_rules = "".join(
        f"  - hosts: [app{index}.example.com]\n    path: /svc{rule}/{{id}}/**\n    scopes: [s{rule}]\n" for index in range(1_000) for rule in range(9))
    host_rules += "".join(f"  - hosts: [app{index}.example.com]\n    path: /users/me/**\n    scopes: [me]\n" for index in range(1_000))
    with open(hosts_policy, "w") as f:
        f.write(open("policies/demo.yaml").read().replace("\nrules:\n", "\nrules:\n" + host_rules, 1))
    hosts_port = free_port()
    scopegate_hosts, _ = start_scopegate(hosts_policy, hosts_port)

    sg_port, sg10k_port, static_port, proxy_port, plain_port, upstream_port, ceiling_port = (free_port() for _ in range(7))
    quiet_port, warning_port, static_log_port = (free_port() for _ in range(3))
    scopegate, ready_ms = start_scopegate(small, sg_port)
    scopegate_quiet, _ = start_scopegate(small, quiet_port, ["--no-access-log"])
    scopegate_warning, _ = start_scopegate(small, warning_port, ["--log-level", "warning"])
    idle = memory_mb(scopegate.pid)
    token = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sg_port}/token", data=urllib.parse.urlencode(
        {"username": "bench", "password": "benchpassword", "scope": "me items"}).encode()))["access_token"]
    scopegate10k, _ = start_scopegate(large, sg10k_port)
    # The same default configuration signing with an asymmetric key: tokens verified once, then cached.
    asymmetric = {}
    for algorithm in ("ES256", "EdDSA", "RS256"):
        pem = f"{WORK}/{algorithm}.pem"
        if algorithm == "RS256":
            # 2048 bits, the size `openssl speed rsa2048` measures (scopegate keys generate makes 3072-bit keys).
            subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", pem], check=True,
                           capture_output=True)
        else:
            subprocess.run([BINARY, "keys", "generate", "--algorithm", algorithm, "--out", pem], check=True, capture_output=True)
        keys = f"{WORK}/keys-{algorithm}.yaml"
        open(keys, "w").write(f"signing_algorithm: {algorithm}\nkeys:\n  - id: bench-{algorithm}\n    algorithm: {algorithm}\n"
                              f"    private_key_file: {pem}\n")
        port = free_port()
        process, _ = start_scopegate(small, port, keys=keys)
        minted = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/token", data=urllib.parse.urlencode(
            {"username": "bench", "password": "benchpassword", "scope": "me items"}).encode()))["access_token"]
        asymmetric[algorithm] = (process, port, minted, token_pool(algorithm, open(pem).read(), algorithm, f"bench-{algorithm}"))
    hs256_pool = token_pool("HS256", secret, "HS256")
    # Its own process: a full verified-token cache (10,000 entries) would otherwise count in the default
    # process's memory under load.
    miss_port = free_port()
    miss_daemon, _ = start_scopegate(small, miss_port)
    pool_script = f"{WORK}/pool.lua"
    open(pool_script, "w").write(TOKEN_POOL_SCRIPT)
    # The ES256 configuration with a policy whose token-protected rule asks for an identity token for the
    # upstream, and the same configuration without one.
    identity_policy = f"{WORK}/policy-identity.yaml"
    open(identity_policy, "w").write(open("policies/demo.yaml").read().replace(
        "    scopes: [me, items]", "    scopes: [me, items]\n    identity_token: {header: X-Auth-Token, audience: bench}", 1))
    issuer = ["--issuer", "https://scopegate.bench.example"]
    identity_port, no_identity_port = free_port(), free_port()
    identity, _ = start_scopegate(identity_policy, identity_port, issuer, keys=f"{WORK}/keys-ES256.yaml")
    no_identity, _ = start_scopegate(small, no_identity_port, issuer, keys=f"{WORK}/keys-ES256.yaml")
    # With --issuer, tokens must carry it: one minted by these daemons (same keys, same issuer) serves both.
    issued = json.load(urllib.request.urlopen(f"http://127.0.0.1:{identity_port}/token", data=urllib.parse.urlencode(
        {"username": "bench", "password": "benchpassword", "scope": "me items"}).encode()))["access_token"]
    identity_headers = [f"Authorization: Bearer {issued}", "X-Original-URI: /users/me/items/", "X-Original-Method: GET"]
    # Machine clients: one client whose secret hash is what `scopegate clients secret` writes (PBKDF2, 600,000
    # rounds). Its first token pays the hash; later ones find the pair remembered.
    import base64
    client_secret, client_hash = subprocess.run([BINARY, "clients", "secret"], capture_output=True, text=True, check=True).stdout.split()
    open(f"{WORK}/clients.yaml", "w").write(f'clients:\n  bench-worker:\n    secret_hashes: ["{client_hash}"]\n'
                                            f'    grant_types: [client_credentials]\n    scopes: [me, items]\n')
    basic = "Basic " + base64.b64encode(f"bench-worker:{client_secret}".encode()).decode()
    clients_port, clients_es_port = free_port(), free_port()
    clients_daemon, _ = start_scopegate(small, clients_port, ["--clients", f"{WORK}/clients.yaml"])
    clients_es_daemon, _ = start_scopegate(small, clients_es_port, ["--clients", f"{WORK}/clients.yaml"], keys=f"{WORK}/keys-ES256.yaml")
    first_calls = []
    for port in (clients_port, clients_es_port):
        started = time.perf_counter()
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/token", data=b"grant_type=client_credentials&scope=me",
                                                      headers={"Authorization": basic}))
        first_calls.append((time.perf_counter() - started) * 1000)
    client_script = client_credentials_script(f"{WORK}/client.lua", basic)
    # The default configuration with a store holding revocations (of other tokens), so every decision
    # checks the token against them.
    store = f"sqlite:{WORK}/state.db"
    for index in range(100):
        subprocess.run([BINARY, "revoke", "--store", store, "--jti", f"other-{index}"], check=True, capture_output=True)
    subprocess.run([BINARY, "revoke", "--store", store, "--user", "someone-else"], check=True, capture_output=True)
    revocations_port = free_port()
    revocations_daemon, _ = start_scopegate(small, revocations_port, ["--store", store])
    # Refresh tokens on: a user whose hash is cheap (cost 4, and --bcrypt-cost 4 so no login upgrades it)
    # mints the chains each repeat starts from.
    cost4 = subprocess.run([BINARY, "hash-password", "--cost", "4"], input="refreshpassword\n", capture_output=True, text=True).stdout.strip()
    open(f"{WORK}/users-refresh.yaml", "w").write(f'users:\n  refresher:\n    password_hash: "{cost4}"\n    scopes: [me, items]\n')
    refresh_port = free_port()
    refresh_daemon, _ = start_scopegate(small, refresh_port, ["--refresh-token-lifetime", "86400", "--bcrypt-cost", "4"],
                                        users=f"{WORK}/users-refresh.yaml")
    refresh_script = f"{WORK}/refresh.lua"
    open(refresh_script, "w").write(REFRESH_SCRIPT)

    # Replicas on PostgreSQL (Debian's, default settings): the default configuration with --store
    # postgres://… beside the same with the default SQLite store, and two more replicas on the database
    # for revocation propagation and regulation (limits raised so that failed logins are counted, never
    # refused).
    postgres_url = start_postgres()
    pg_port, sqlite_port, replica_a_port, replica_b_port = (free_port() for _ in range(4))
    pg_daemon, _ = start_scopegate(small, pg_port, ["--store", postgres_url])
    sqlite_daemon, _ = start_scopegate(small, sqlite_port)
    lenient = ["--regulate-after-pair", "1000000000", "--regulate-after-address", "1000000000", "--regulate-after-user", "1000000000"]
    replica_options = ["--store", postgres_url, "--bcrypt-cost", "4", *lenient]
    replica_a, _ = start_scopegate(small, replica_a_port, replica_options, users=f"{WORK}/users-refresh.yaml")
    replica_b, _ = start_scopegate(small, replica_b_port, replica_options, users=f"{WORK}/users-refresh.yaml")
    sqlite_replica_port = free_port()
    sqlite_replica, _ = start_scopegate(small, sqlite_replica_port, ["--bcrypt-cost", "4", *lenient], users=f"{WORK}/users-refresh.yaml")
    failed_login = f"{WORK}/failed-login.lua"
    open(failed_login, "w").write('wrk.method = "POST"\nwrk.body = "username=refresher&password=wrong"\n'
                                  'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n')

    def refresh_chains():
        path = f"{WORK}/refresh-tokens-{time.time_ns()}"
        with open(path, "w") as f:
            for _ in range(REFRESH_CLIENTS + 1):
                answer = json.load(urllib.request.urlopen(f"http://127.0.0.1:{refresh_port}/token", data=urllib.parse.urlencode(
                    {"username": "refresher", "password": "refreshpassword", "scope": "me items"}).encode()))
                f.write(answer["refresh_token"] + "\n")
        return path
    # 100,000 users in the store: import, start-up, and a login's lookup (cost-4 logins against the big
    # store and against a store of one user, the difference being the lookup).
    big_users = f"{WORK}/users-100k.yaml"
    with open(big_users, "w") as f:
        f.write("users:\n")
        for index in range(100_000):
            f.write(f'  user{index}:\n    password_hash: "{cost4}"\n    scopes: [me]\n')
        f.write(f'  refresher:\n    password_hash: "{cost4}"\n    scopes: [me, items]\n')
    store_folders = {}
    import_ms = {}
    for name, source in (("big", big_users), ("one", f"{WORK}/users-refresh.yaml")):
        store_folders[name] = f"{WORK}/users-{name}"
        os.makedirs(store_folders[name])
        started = time.perf_counter()
        subprocess.run([BINARY, "users", "import", source, "--state-dir", store_folders[name]], check=True, capture_output=True)
        import_ms[name] = (time.perf_counter() - started) * 1000
    stored_daemons, stored_start_ms = {}, {}
    for name, folder in store_folders.items():
        port = free_port()
        process, ready = start_scopegate(small, port, ["--state-dir", folder, "--bcrypt-cost", "4"], users="store")
        stored_daemons[name] = (process, port)
        stored_start_ms[name] = ready
    stored_login = f"{WORK}/stored-login.lua"
    open(stored_login, "w").write('wrk.method = "POST"\nwrk.body = "username=refresher&password=refreshpassword"\n'
                                  'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n')
    carried = urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{identity_port}/auth",
                                                            headers=dict(h.split(": ", 1) for h in identity_headers)))
    if carried.headers.get("X-Auth-Token", "").count(".") != 2:
        raise SystemExit("the identity-token configuration answered without an identity token")
    upstream = start_nginx(f"server {{ listen 127.0.0.1:{upstream_port}; location / {{ return 200 'ok'; }} }}", "upstream")
    static = start_nginx(f"server {{ listen 127.0.0.1:{static_port}; location = /x {{ return 200; }} }}", "static")
    # The same nginx with its access log written to a file (nginx's default combined format).
    static_log = start_nginx(f"server {{ listen 127.0.0.1:{static_log_port}; access_log {WORK}/nginx-access.log;"
                             f" location = /x {{ return 200; }} }}", "static-log")
    proxies = start_nginx(f"""
        upstream app {{ server 127.0.0.1:{upstream_port}; keepalive 64; }}
        upstream scopegate {{ server 127.0.0.1:{sg_port}; keepalive 64; }}
        server {{ listen 127.0.0.1:{proxy_port};
            location / {{ auth_request /_auth; proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }}
            location = /_auth {{ internal; proxy_pass http://scopegate/auth; proxy_pass_request_body off; proxy_set_header Content-Length "";
                proxy_set_header X-Original-URI $request_uri; proxy_set_header X-Original-Method $request_method;
                proxy_http_version 1.1; proxy_set_header Connection ""; }} }}
        server {{ listen 127.0.0.1:{plain_port};
            location / {{ proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }} }}
        upstream free_auth {{ server 127.0.0.1:{static_port}; keepalive 64; }}
        server {{ listen 127.0.0.1:{ceiling_port};
            location / {{ auth_request /_auth; proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }}
            location = /_auth {{ internal; proxy_pass http://free_auth/x; proxy_pass_request_body off; proxy_set_header Content-Length "";
                proxy_http_version 1.1; proxy_set_header Connection ""; }} }}""", "proxies")
    for port in (static_port, static_log_port, proxy_port, plain_port, upstream_port, ceiling_port):
        wait_http(f"http://127.0.0.1:{port}/")

    auth_headers = [f"Authorization: Bearer {token}", "X-Original-URI: /users/me/items/", "X-Original-Method: GET"]
    host_headers = auth_headers + ["X-Forwarded-Host: App500.example.com", "X-Forwarded-Proto: https"]
    results = {name: [] for name in ["auth", "auth_quiet", "auth_warning", "static", "static_log", "static_same", "healthz",
                                     "chain", "plain", "ceiling", "auth10k", "auth5", "ES256", "EdDSA", "RS256",
                                     "miss-HS256", "miss-ES256", "miss-EdDSA", "miss-RS256", "identity", "no_identity",
                                     "client_credentials", "client_credentials_es256", "healthz_clients", "revocations",
                                     "refresh", "healthz_refresh", "login_big", "login_one", "hosts", "hosts5", "auth_pg", "auth_sqlite",
                                     "fail_pg", "fail_sqlite", "login_pg"]}
    propagation = []
    openssl_rates = []
    peak_rss = 0.0
    for _ in range(REPEATS):
        results["auth"].append(wrk(f"http://127.0.0.1:{sg_port}/auth", auth_headers, pids=[scopegate.pid]))
        peak_rss = max(peak_rss, rss_mb(scopegate.pid))
        results["auth_quiet"].append(wrk(f"http://127.0.0.1:{quiet_port}/auth", auth_headers, pids=[scopegate_quiet.pid]))
        results["auth_warning"].append(wrk(f"http://127.0.0.1:{warning_port}/auth", auth_headers, pids=[scopegate_warning.pid]))
        results["static"].append(wrk(f"http://127.0.0.1:{static_port}/x", pids=children(static.pid)))
        results["static_log"].append(wrk(f"http://127.0.0.1:{static_log_port}/x", pids=children(static_log.pid)))
        # The same request /auth gets (token and forwarded headers), which nginx reads and ignores.
        results["static_same"].append(wrk(f"http://127.0.0.1:{static_port}/x", auth_headers, pids=children(static.pid)))
        results["healthz"].append(wrk(f"http://127.0.0.1:{sg_port}/healthz", pids=[scopegate.pid]))
        results["chain"].append(wrk(f"http://127.0.0.1:{proxy_port}/users/me/items/", [f"Authorization: Bearer {token}"]))
        results["plain"].append(wrk(f"http://127.0.0.1:{plain_port}/users/me/items/"))
        results["ceiling"].append(wrk(f"http://127.0.0.1:{ceiling_port}/users/me/items/"))
        results["auth10k"].append(wrk(f"http://127.0.0.1:{sg10k_port}/auth", auth_headers, pids=[scopegate10k.pid]))
        results["auth5"].append(wrk(f"http://127.0.0.1:{sg_port}/auth", auth_headers, pids=[scopegate.pid]))
        # The same request with its host, decided by that host's own rule (the demo policy ignores the host).
        results["hosts"].append(wrk(f"http://127.0.0.1:{hosts_port}/auth", host_headers, pids=[scopegate_hosts.pid]))
        results["hosts5"].append(wrk(f"http://127.0.0.1:{sg_port}/auth", host_headers, pids=[scopegate.pid]))
        for algorithm, (process, port, minted, pool) in asymmetric.items():
            headers = [f"Authorization: Bearer {minted}", "X-Original-URI: /users/me/items/", "X-Original-Method: GET"]
            results[algorithm].append(wrk(f"http://127.0.0.1:{port}/auth", headers, pids=[process.pid]))
            results[f"miss-{algorithm}"].append(wrk(f"http://127.0.0.1:{port}/auth", pids=[process.pid], script=(pool_script, pool)))
        results["miss-HS256"].append(wrk(f"http://127.0.0.1:{miss_port}/auth", pids=[miss_daemon.pid], script=(pool_script, hs256_pool)))
        openssl_rates.append(openssl_verify_rates(max(1, SECONDS // 2)))
        results["identity"].append(wrk(f"http://127.0.0.1:{identity_port}/auth", identity_headers, pids=[identity.pid]))
        results["no_identity"].append(wrk(f"http://127.0.0.1:{no_identity_port}/auth", identity_headers, pids=[no_identity.pid]))
        results["client_credentials"].append(wrk(f"http://127.0.0.1:{clients_port}/token", pids=[clients_daemon.pid], script=(client_script,)))
        results["client_credentials_es256"].append(
            wrk(f"http://127.0.0.1:{clients_es_port}/token", pids=[clients_es_daemon.pid], script=(client_script,)))
        results["healthz_clients"].append(wrk(f"http://127.0.0.1:{clients_port}/healthz", pids=[clients_daemon.pid]))
        results["revocations"].append(wrk(f"http://127.0.0.1:{revocations_port}/auth", auth_headers, pids=[revocations_daemon.pid]))
        results["refresh"].append(wrk(f"http://127.0.0.1:{refresh_port}/token", connections=REFRESH_CLIENTS, pids=[refresh_daemon.pid],
                                      script=(refresh_script, refresh_chains())))
        results["healthz_refresh"].append(wrk(f"http://127.0.0.1:{refresh_port}/healthz", connections=REFRESH_CLIENTS, pids=[refresh_daemon.pid]))
        for name in ("big", "one"):
            process, port = stored_daemons[name]
            results[f"login_{name}"].append(wrk(f"http://127.0.0.1:{port}/token", connections=1, pids=[process.pid], script=(stored_login,)))
        results["auth_pg"].append(wrk(f"http://127.0.0.1:{pg_port}/auth", auth_headers, pids=[pg_daemon.pid]))
        results["auth_sqlite"].append(wrk(f"http://127.0.0.1:{sqlite_port}/auth", auth_headers, pids=[sqlite_daemon.pid]))
        # One connection: each failed login's latency, counted in the store (PostgreSQL, or SQLite), beside
        # the same user's successful login on the PostgreSQL replica.
        results["fail_pg"].append(wrk(f"http://127.0.0.1:{replica_a_port}/token", connections=1, pids=[replica_a.pid], script=(failed_login,)))
        results["fail_sqlite"].append(
            wrk(f"http://127.0.0.1:{sqlite_replica_port}/token", connections=1, pids=[sqlite_replica.pid], script=(failed_login,)))
        results["login_pg"].append(wrk(f"http://127.0.0.1:{replica_a_port}/token", connections=1, pids=[replica_a.pid], script=(stored_login,)))
    propagation = propagation_ms(replica_a_port, replica_b_port, 1000)

    # One cost-12 hash, timed here, gives the machine's login limit.
    # (libxcrypt through Python's crypt module: the same library ScopeGate calls, without a process start.)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        crypt.crypt("benchpassword", cost12)
        timings.append(time.perf_counter() - started)
    hash_seconds = statistics.median(timings)
    login_limit = CORES / hash_seconds
    login_body = urllib.parse.urlencode({"username": "bench", "password": "benchpassword"})
    lua = f"{WORK}/login.lua"
    open(lua, "w").write(f'wrk.method = "POST"\nwrk.body = "{login_body}"\nwrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n')
    flood_command = ["wrk", "-t1", f"-c{int(4 * login_limit) + 1}", f"-d{SECONDS}s", "-s", lua, f"http://127.0.0.1:{sg_port}/token"]
    logins, refused, timed_out, during, alone = [], 0, 0, [], []
    for _ in range(REPEATS):
        # Login throughput: the flood alone, so the cores are the logins' (the limit assumes no other load).
        flood_out = subprocess.run(flood_command, capture_output=True, text=True).stdout
        flood_errors = re.search(r"Non-2xx or 3xx responses: (\d+)", flood_out)
        flood_timeouts = re.search(r"timeout (\d+)", flood_out)
        errors = int(flood_errors.group(1)) if flood_errors else 0
        refused += errors
        timed_out += int(flood_timeouts.group(1)) if flood_timeouts else 0
        logins.append((int(re.search(r"(\d+) requests in", flood_out).group(1)) - errors) / SECONDS)
        # /auth latency while the same flood runs, then alone.
        flood = subprocess.Popen(flood_command[:3] + [f"-d{SECONDS + 2}s"] + flood_command[4:], stdout=subprocess.PIPE, text=True)
        time.sleep(1)
        during.append(wrk(f"http://127.0.0.1:{sg_port}/auth", auth_headers, connections=16))
        flood.communicate()
        alone.append(wrk(f"http://127.0.0.1:{sg_port}/auth", auth_headers, connections=16))

    exposition = urllib.request.urlopen(f"http://127.0.0.1:{sg_port}/metrics").read().decode()
    dropped_match = re.search(r"^scopegate_access_log_dropped_total (\d+)", exposition, re.M)
    dropped = dropped_match.group(1) if dropped_match else "not counted"
    for process in (scopegate, scopegate_quiet, scopegate_warning, scopegate10k, scopegate_hosts, upstream, static, static_log, proxies, identity, no_identity,
                    clients_daemon, clients_es_daemon, revocations_daemon, miss_daemon, refresh_daemon,
                    pg_daemon, sqlite_daemon, replica_a, replica_b, sqlite_replica,
                    *(entry[0] for entry in stored_daemons.values()),
                    *(entry[0] for entry in asymmetric.values())):
        stop(process)

    def row(name, value, reference, ratio, target):
        print(f"{name:<46} {value:>14} {reference:>14} {ratio:>8} {target:>10}")

    def compare(name, runs, references, key, digits, target=""):
        """A row of medians of `key` and the median of the per-repeat ratios (the figure the target is for)."""
        ratio = statistics.median(x[key] / max(y[key], 0.001) for x, y in zip(runs, references))
        row(name, f"{median_of(runs, key):.{digits}f}", f"{median_of(references, key):.{digits}f}", f"{ratio:.2f}", target)

    print(f"\nScopeGate benchmark: {CORES} cores, {SECONDS}s per measurement, median of {REPEATS}")
    print("ScopeGate runs its default configuration (JSON lines to standard error, a file here; access log on)\n")
    row("measurement", "ScopeGate", "reference", "ratio", "target")
    a, s, same = results["auth"], results["static"], results["static_same"]
    compare("/auth req/s: default vs --no-access-log", a, results["auth_quiet"], "rps", 0, ">= 0.90")
    compare("  (--log-level warning vs --no-access-log)", results["auth_warning"], results["auth_quiet"], "rps", 0)
    compare("  (nginx: access_log to a file vs off)", results["static_log"], s, "rps", 0)
    compare("/auth req/s vs nginx return 200", a, s, "rps", 0, ">= 0.90")
    compare("/auth CPU us/request vs nginx", a, s, "cpu_us", 1, "<= 1.30")
    # nginx sent the very request /auth gets: both servers then read the same bytes.
    compare("  (nginx given /auth's request: req/s)", a, same, "rps", 0)
    compare("  (nginx given /auth's request: CPU us)", a, same, "cpu_us", 1)
    # The ceiling of ScopeGate's HTTP layer (libmicrohttpd): a constant answer, no decision.
    h = results["healthz"]
    compare("  (ceiling: /healthz, no decision, req/s)", h, s, "rps", 0)
    compare("  (ceiling: /healthz, no decision, CPU us)", h, s, "cpu_us", 1)
    row("/auth p50 / p99 ms", f"{median_of(a, 'p50'):.2f}/{median_of(a, 'p99'):.2f}", f"{median_of(s, 'p50'):.2f}/{median_of(s, 'p99'):.2f}", "", "")
    c, p = results["chain"], results["plain"]
    compare("nginx+auth_request+ScopeGate vs nginx proxy", c, p, "rps", 0, ">= 0.60")
    # The ceiling of any auth service: the same auth_request chain when nginx itself answers the subrequest.
    compare("  (ceiling: auth_request to nginx return 200)", results["ceiling"], p, "rps", 0)
    for algorithm in ("ES256", "EdDSA", "RS256"):
        compare(f"/auth req/s, {algorithm} vs HS256 token (cache hit)", results[algorithm], a, "rps", 0, ">= 0.90")
    # Every request a token not seen before: decisions per second per core (from ScopeGate's CPU time) beside
    # the verifications per second `openssl speed` makes on one core, and the cost of a miss over a hit.
    compare("/auth CPU us/request, HS256 cache miss vs hit", results["miss-HS256"], a, "cpu_us", 1)
    for algorithm in ("ES256", "EdDSA", "RS256"):
        misses, hits = results[f"miss-{algorithm}"], results[algorithm]
        per_core = [1e6 / run["cpu_us"] for run in misses]
        reference = [rates[algorithm] for rates in openssl_rates]
        ratio = statistics.median(x / y for x, y in zip(per_core, reference))
        row(f"{algorithm} cache miss: decisions/s/core vs openssl", f"{statistics.median(per_core):.0f}",
            f"{statistics.median(reference):.0f}", f"{ratio:.2f}", ">= 0.80")
        added = [1e6 / max(miss["cpu_us"] - hit["cpu_us"], 0.001) for miss, hit in zip(misses, hits)]
        ratio = statistics.median(x / y for x, y in zip(added, reference))
        row(f"  (miss minus hit: verifications/s/core)", f"{statistics.median(added):.0f}", f"{statistics.median(reference):.0f}",
            f"{ratio:.2f}", "")
        compare(f"  ({algorithm} miss vs hit, CPU us/request)", misses, hits, "cpu_us", 1)
    compare("/auth CPU us, allow with identity token vs without", results["identity"], results["no_identity"], "cpu_us", 1, "<= 1.20")
    compare("  (req/s, with identity token vs without)", results["identity"], results["no_identity"], "rps", 0)
    compare("/auth CPU us, revocations in force vs none", results["revocations"], a, "cpu_us", 1, "<= 1.02")
    compare("client_credentials tokens/s vs /healthz req/s", results["client_credentials"], results["healthz_clients"], "rps", 0, ">= 0.25")
    compare("  (the same, ES256-signed tokens)", results["client_credentials_es256"], results["healthz_clients"], "rps", 0)
    row("  (first call: PBKDF2-SHA256 600,000 rounds, ms)", f"{first_calls[0]:.0f}", f"{first_calls[1]:.0f} ES256", "", "")
    compare(f"refresh redemptions/s vs /healthz, {REFRESH_CLIENTS} clients", results["refresh"], results["healthz_refresh"], "rps", 0)
    compare("  (p99 ms, redemption vs /healthz)", results["refresh"], results["healthz_refresh"], "p99", 2)
    compare("  (p50 ms, redemption vs /healthz)", results["refresh"], results["healthz_refresh"], "p50", 2)
    row("  (redemptions answered non-2xx, all runs)", f"{sum(run['errors'] for run in results['refresh'])}", "", "", "0")
    row("100,000 users: import ms / start ms", f"{import_ms['big']:.0f}/{stored_start_ms['big']:.0f}",
        f"{import_ms['one']:.0f}/{stored_start_ms['one']:.0f} one", "", "")
    lookup = statistics.median(big["p50"] - one["p50"] for big, one in zip(results["login_big"], results["login_one"]))
    compare("  (login p50 ms, 100,000 users vs one)", results["login_big"], results["login_one"], "p50", 3)
    row("  (a login's lookup in 100,000 users, ms)", f"{max(lookup, 0):.3f}", "", "", "< 1")
    compare("/auth req/s, PostgreSQL store vs SQLite", results["auth_pg"], results["auth_sqlite"], "rps", 0, "~1.00")
    compare("  (CPU us/request, PostgreSQL vs SQLite)", results["auth_pg"], results["auth_sqlite"], "cpu_us", 1)
    quantile = lambda values, q: values[min(len(values) - 1, int(q * len(values)))]
    row(f"revocation reaching another replica, {len(propagation)}: p50/p99 ms", f"{quantile(propagation, 0.5):.2f}/{quantile(propagation, 0.99):.2f}",
        f"max {propagation[-1]:.1f}", "", "p99<=100")
    compare("failed login p50 ms, PostgreSQL vs SQLite counted", results["fail_pg"], results["fail_sqlite"], "p50", 3)
    compare("  (failed vs successful login p50 ms, PostgreSQL)", results["fail_pg"], results["login_pg"], "p50", 3)
    compare("CPU us/decision, 10,000 rules vs 5 rules", results["auth10k"], results["auth5"], "cpu_us", 1, "<= 1.10")
    compare("CPU us/decision, 1,000 hosts x 10 rules vs 5 rules", results["hosts"], results["hosts5"], "cpu_us", 1, "<= 1.10")
    compare("/auth p99 ms during login flood vs alone", during, alone, "p99", 2, "<=5ms,<=2x")
    compare("/auth p50 ms during login flood vs alone", during, alone, "p50", 2)
    row("logins/s vs cores / cost-12 hash time", f"{statistics.median(logins):.2f}", f"{login_limit:.2f}",
        f"{statistics.median(logins) / login_limit:.2f}", ">= 0.90")
    row("excess logins answered 503 / timed out (all runs)", f"{refused}/{timed_out}", "", "", "0 timeouts")
    row("startup to first /healthz 200 (ms)", f"{ready_ms:.0f}", "", "", "<= 100")
    row("RSS idle / under load (MB)", f"{idle['VmRSS']:.1f}/{peak_rss:.1f}", "", "", "<= 20 idle")
    row("  (idle: anonymous / file-backed code, MB)", f"{idle['RssAnon']:.1f}/{idle['RssFile']:.1f}", "", "", "")
    # Failed logins answer 401 by design.
    errors = sum(run["errors"] for name, runs in results.items() if not name.startswith("fail_") for run in runs)
    access_lines = sum(1 for line in open(f"{WORK}/scopegate-{sg_port}.log") if '"message":"request"' in line)
    print(f"\nnon-2xx answers in the throughput runs: {errors}")
    print(f"access-log lines the default ScopeGate wrote: {access_lines}, dropped: {dropped}")


main()

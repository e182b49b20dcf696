/// The configuration `scopegate serve --demo` runs with: FastAPI's tutorial users, secret and routes.
/// For trying ScopeGate out only: the secret is published.
public enum DemoConfiguration {
    /// The tutorial's `SECRET_KEY`, published in its documentation.
    public static let secret = "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7"

    /// johndoe (password `secret`) and the disabled alice (password `secretalice`), as in the tutorial.
    public static let usersYAML = """
        # ScopeGate demo users: FastAPI's OAuth2 tutorial users.
        users:
          johndoe:
            full_name: John Doe
            email: johndoe@example.com
            password_hash: "$2b$12$EixZaYVK1fsbw1ZfbX3OXePaWxn96p36WQoeG6Lruj3vjPGga31lW"   # secret
            disabled: false
            scopes: [me, items]
          alice:
            full_name: Alice Chains
            email: alicechains@example.com
            password_hash: "$2b$12$gSvqqUPvlXP2tfVFaWK1Be7DlH.PKZbv5H8KnzzVgXXbVxpva.pFm"   # secretalice
            disabled: true
            scopes: [me, items]

        """

    /// The same text as `policies/demo.yaml` (a test keeps them identical).
    public static let policyYAML = """
        # ScopeGate demo policy: the routes of FastAPI's OAuth2 scopes tutorial, plus a public and an admin area.
        # Rules are matched by specificity, not by order: literal segments beat * and {name}, which beat **.
        rules:
          - path: /users/me/items/
            scopes: [me, items]        # all listed scopes required
          - path: /users/me/
            scopes: [me]
          - path: /status/
            scopes: []                 # any valid token
          - path: /public/**
            public: true               # no token needed
          - path: /admin/**
            methods: [GET]
            scopes: [admin]
        default: deny                  # or: authenticated
        scopes:                        # what each scope means, shown in /openapi.json and /docs
          me: Read information about the current user.
          items: Read items.
          admin: Use the admin area.

        """
}

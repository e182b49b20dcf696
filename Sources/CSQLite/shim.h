#include <sqlite3.h>

// SQLITE_TRANSIENT is a macro casting -1 to a function pointer: Swift cannot import it.
static inline sqlite3_destructor_type scopegate_sqlite_transient(void) { return SQLITE_TRANSIENT; }

// sqlite3_db_config is variadic. Defensive mode refuses writes that could corrupt the file (writable
// schema, direct page edits); extension loading stays off.
static inline int scopegate_sqlite_harden(sqlite3 *db) {
    int status = sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)0);
    if (status != SQLITE_OK) return status;
    return sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, (int *)0);
}

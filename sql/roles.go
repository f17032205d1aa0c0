package sql

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/tributary-db/tributary/sql/pgerror"
)

// Roles are catalog state like tables: CREATE/ALTER/DROP ROLE are DDL, their
// text is the catalog record and replay re-executes it. A password is never
// kept or logged in clear: catalogRecord replaces it in the statement by its
// SCRAM-SHA-256 verifier before the statement runs, and a verifier given as
// PASSWORD is stored as-is (as PostgreSQL does), so the rewritten record
// restores the same role. There are no privileges yet: any session may
// manage roles; SUPERUSER is recorded for pg_roles and future use.

// role is one role of the catalog.
type role struct {
	name      string
	login     bool
	superuser bool
	verifier  *SCRAMVerifier // nil: no password, password logins fail
}

// scramIterations is PostgreSQL's scram_iterations default.
const scramIterations = 4096

// SCRAMVerifier is a stored SCRAM-SHA-256 secret (RFC 5802, RFC 7677), in
// PostgreSQL's text form SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
// (base64 fields). It lets the server check a client proof without knowing
// the password.
type SCRAMVerifier struct {
	Iterations int
	Salt       []byte
	StoredKey  []byte // H(HMAC(SaltedPassword, "Client Key"))
	ServerKey  []byte // HMAC(SaltedPassword, "Server Key")
}

const scramPrefix = "SCRAM-SHA-256$"

// NewSCRAMVerifier derives a verifier for password with a random 16-byte
// salt. Unlike PostgreSQL it does not apply SASLprep to the password; for
// ASCII passwords the result is the same (PostgreSQL also uses the raw bytes
// when SASLprep fails), and pgx's client side does the same.
func NewSCRAMVerifier(password string) (*SCRAMVerifier, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	return newSCRAMVerifier(password, salt, scramIterations)
}

func newSCRAMVerifier(password string, salt []byte, iter int) (*SCRAMVerifier, error) {
	salted, err := SCRAMSaltedPassword(password, salt, iter)
	if err != nil {
		return nil, err
	}
	clientKey := scramHMAC(salted, []byte("Client Key"))
	stored := sha256.Sum256(clientKey)
	return &SCRAMVerifier{Iterations: iter, Salt: salt, StoredKey: stored[:], ServerKey: scramHMAC(salted, []byte("Server Key"))}, nil
}

// SCRAMSaltedPassword is Hi(password, salt, iterations) of RFC 5802.
func SCRAMSaltedPassword(password string, salt []byte, iter int) ([]byte, error) {
	return pbkdf2.Key(sha256.New, password, salt, iter, sha256.Size)
}

func scramHMAC(key, msg []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(msg)
	return h.Sum(nil)
}

// ParseSCRAMVerifier parses PostgreSQL's text form of a verifier; ok is
// false when s is not one (it is then a cleartext password).
func ParseSCRAMVerifier(s string) (v *SCRAMVerifier, ok bool) {
	rest, found := strings.CutPrefix(s, scramPrefix)
	if !found {
		return nil, false
	}
	iterSalt, keys, found := strings.Cut(rest, "$")
	if !found {
		return nil, false
	}
	iterS, saltS, found1 := strings.Cut(iterSalt, ":")
	storedS, serverS, found2 := strings.Cut(keys, ":")
	if !found1 || !found2 {
		return nil, false
	}
	iter, err := strconv.Atoi(iterS)
	if err != nil || iter <= 0 {
		return nil, false
	}
	dec := base64.StdEncoding.DecodeString
	salt, err1 := dec(saltS)
	stored, err2 := dec(storedS)
	server, err3 := dec(serverS)
	if err1 != nil || err2 != nil || err3 != nil || len(salt) == 0 || len(stored) != sha256.Size || len(server) != sha256.Size {
		return nil, false
	}
	return &SCRAMVerifier{Iterations: iter, Salt: salt, StoredKey: stored, ServerKey: server}, true
}

// String is PostgreSQL's text form of the verifier.
func (v *SCRAMVerifier) String() string {
	enc := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("%s%d:%s$%s:%s", scramPrefix, v.Iterations, enc(v.Salt), enc(v.StoredKey), enc(v.ServerKey))
}

// CheckPassword reports whether a cleartext password matches the verifier
// (password authentication), in constant time with respect to the keys.
func (v *SCRAMVerifier) CheckPassword(password string) bool {
	w, err := newSCRAMVerifier(password, v.Salt, v.Iterations)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(w.StoredKey, v.StoredKey) == 1 &&
		subtle.ConstantTimeCompare(w.ServerKey, v.ServerKey) == 1
}

// LoginRole returns what authentication needs to know about a role; ok is
// false when there is no such role. Safe for concurrent use.
func (e *Engine) LoginRole(name string) (r LoginRole, ok bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	ro := e.mu.cat.roles[name]
	if ro == nil {
		return LoginRole{}, false
	}
	return LoginRole{Name: ro.name, CanLogin: ro.login, Superuser: ro.superuser, Verifier: ro.verifier}, true
}

// isRoleStmt reports whether n is CREATE, ALTER or DROP ROLE.
func isRoleStmt(n *pg.Node) bool {
	return n.GetCreateRoleStmt() != nil || n.GetAlterRoleStmt() != nil || n.GetDropRoleStmt() != nil
}

// catalogRecord is the text recorded in the catalog log for a DDL
// statement. For a role statement with a cleartext PASSWORD it first
// replaces the password in the statement's tree by a fresh verifier, so
// that executing the statement stores that verifier and the record (the
// deparsed tree) carries no cleartext.
func catalogRecord(st *Statement) (string, error) {
	n := st.ast
	var opts []*pg.Node
	switch {
	case n.GetCreateRoleStmt() != nil:
		opts = n.GetCreateRoleStmt().Options
	case n.GetAlterRoleStmt() != nil:
		opts = n.GetAlterRoleStmt().Options
	default:
		return st.sql, nil
	}
	rewritten := false
	for _, o := range opts {
		d := o.GetDefElem()
		if d == nil || d.Defname != "password" || d.Arg.GetString_() == nil {
			continue
		}
		pw := d.Arg.GetString_().Sval
		if _, ok := ParseSCRAMVerifier(pw); ok {
			continue
		}
		if isMD5Hash(pw) {
			// PostgreSQL would store it, but an MD5 hash cannot become a
			// SCRAM verifier, and hashing it as a password would silently
			// make a different one.
			e := pgerror.New(pgerror.FeatureNotSupported, "MD5 password hashes are not supported")
			e.Hint = "Give the password in clear or as a SCRAM-SHA-256 verifier (SET password_encryption = 'scram-sha-256')."
			return "", e
		}
		v, err := NewSCRAMVerifier(pw)
		if err != nil {
			return "", pgerror.New(pgerror.InternalError, "computing the password verifier: %v", err)
		}
		d.Arg = pg.MakeStrNode(v.String())
		rewritten = true
	}
	if !rewritten {
		return st.sql, nil
	}
	out, err := pg.Deparse(&pg.ParseResult{Version: parseTreeVersion(), Stmts: []*pg.RawStmt{{Stmt: n}}})
	if err != nil {
		return "", pgerror.New(pgerror.InternalError, "recording the role statement: %v", err)
	}
	st.sql = out // the statement's text must not keep the password either
	return out, nil
}

// roleOptions are the options of CREATE/ALTER ROLE; nil fields are unset.
type roleOptions struct {
	login, superuser *bool
	password         **SCRAMVerifier // set to nil pointer for PASSWORD NULL
}

func parseRoleOptions(opts []*pg.Node) (roleOptions, error) {
	var ro roleOptions
	seen := map[string]bool{}
	for _, o := range opts {
		d := o.GetDefElem()
		if d == nil {
			return ro, pgerror.New(pgerror.SyntaxError, "unexpected role option")
		}
		if seen[d.Defname] {
			return ro, pgerror.New(pgerror.SyntaxError, "conflicting or redundant options")
		}
		seen[d.Defname] = true
		switch d.Defname {
		case "canlogin":
			b := d.Arg.GetBoolean().GetBoolval()
			ro.login = &b
		case "superuser":
			b := d.Arg.GetBoolean().GetBoolval()
			ro.superuser = &b
		case "password":
			var v *SCRAMVerifier
			if s := d.Arg.GetString_(); s != nil {
				pv, ok := ParseSCRAMVerifier(s.Sval)
				if !ok {
					// catalogRecord hashes cleartext before execution; a
					// cleartext password here is a bug, not user input.
					return ro, pgerror.New(pgerror.InternalError, "role password was not hashed before execution")
				}
				v = pv
			}
			ro.password = &v
		default:
			return ro, pgerror.New(pgerror.FeatureNotSupported, "role option %s is not supported", strings.ToUpper(d.Defname))
		}
	}
	return ro, nil
}

func (ro roleOptions) applyTo(r *role) {
	if ro.login != nil {
		r.login = *ro.login
	}
	if ro.superuser != nil {
		r.superuser = *ro.superuser
	}
	if ro.password != nil {
		r.verifier = *ro.password
	}
}

// execRole runs CREATE ROLE, ALTER ROLE and DROP ROLE.
// REQUIRES: mu held for writing.
func (e *Engine) execRole(s *Session, n *pg.Node) (*Result, error) {
	cat := e.mu.cat
	if cat.roles == nil {
		cat.roles = map[string]*role{}
	}
	switch {
	case n.GetCreateRoleStmt() != nil:
		cs := n.GetCreateRoleStmt()
		if cs.StmtType == pg.RoleStmtType_ROLESTMT_GROUP {
			return nil, pgerror.New(pgerror.FeatureNotSupported, "CREATE GROUP is not supported")
		}
		ro, err := parseRoleOptions(cs.Options)
		if err != nil {
			return nil, err
		}
		if _, ok := cat.roles[cs.Role]; ok {
			return nil, pgerror.New(pgerror.DuplicateObject, "role %q already exists", cs.Role)
		}
		r := &role{name: cs.Role, login: cs.StmtType == pg.RoleStmtType_ROLESTMT_USER}
		ro.applyTo(r)
		cat.roles[r.name] = r
		return &Result{Tag: "CREATE ROLE"}, nil

	case n.GetAlterRoleStmt() != nil:
		as := n.GetAlterRoleStmt()
		if as.Role.GetRoletype() != pg.RoleSpecType_ROLESPEC_CSTRING {
			return nil, pgerror.New(pgerror.FeatureNotSupported, "ALTER ROLE supports only a role name")
		}
		ro, err := parseRoleOptions(as.Options)
		if err != nil {
			return nil, err
		}
		r := cat.roles[as.Role.Rolename]
		if r == nil {
			return nil, pgerror.New(pgerror.UndefinedObject, "role %q does not exist", as.Role.Rolename)
		}
		ro.applyTo(r)
		return &Result{Tag: "ALTER ROLE"}, nil

	default:
		ds := n.GetDropRoleStmt()
		var names []string
		var res Result
		res.Tag = "DROP ROLE"
		for _, rn := range ds.Roles {
			spec := rn.GetRoleSpec()
			if spec == nil || spec.Roletype != pg.RoleSpecType_ROLESPEC_CSTRING {
				return nil, pgerror.New(pgerror.FeatureNotSupported, "DROP ROLE supports only role names")
			}
			if cat.roles[spec.Rolename] == nil {
				if !ds.MissingOk {
					return nil, pgerror.New(pgerror.UndefinedObject, "role %q does not exist", spec.Rolename)
				}
				res.Notices = append(res.Notices, Notice{Severity: "NOTICE", Code: "00000",
					Message: fmt.Sprintf("role %q does not exist, skipping", spec.Rolename)})
				continue
			}
			names = append(names, spec.Rolename)
		}
		// Checked first, dropped after: a failing DROP ROLE drops nothing.
		for _, name := range names {
			delete(cat.roles, name)
		}
		return &res, nil
	}
}

// roleRow is one row of pg_roles or pg_user.
type roleRow struct {
	name            string
	oid             uint32
	super, canLogin bool
}

// roleRows lists the roles for pg_roles and pg_user: the session's user
// first, as the bootstrap superuser (OID 10) that every object belongs to,
// with its catalog attributes when it is a role, then the other roles by
// name. Their OIDs (from 16384, by name) are not stable across CREATE and
// DROP ROLE; nothing refers to a role by OID yet.
func (c *catalogView) roleRows() []roleRow {
	out := []roleRow{{name: c.user, oid: roleOID, super: true, canLogin: true}}
	if r := c.cat.roles[c.user]; r != nil {
		out[0].super, out[0].canLogin = r.superuser, r.login
	}
	names := make([]string, 0, len(c.cat.roles))
	for name := range c.cat.roles {
		if name != c.user {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for i, name := range names {
		r := c.cat.roles[name]
		out = append(out, roleRow{name: name, oid: uint32(16384 + i), super: r.superuser, canLogin: r.login})
	}
	return out
}

// isMD5Hash reports whether pw has the form of PostgreSQL's MD5 password
// hash, "md5" and 32 hex digits.
func isMD5Hash(pw string) bool {
	rest, ok := strings.CutPrefix(pw, "md5")
	if !ok || len(rest) != 32 {
		return false
	}
	for _, ch := range rest {
		if !strings.ContainsRune("0123456789abcdef", ch) {
			return false
		}
	}
	return true
}

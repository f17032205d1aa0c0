package pgwire

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/tributary-db/tributary/sql"
	"github.com/tributary-db/tributary/sql/pgerror"
)

// AuthMethod is how a connection proves who its user is, as in a
// pg_hba.conf line (https://www.postgresql.org/docs/current/auth-password.html).
type AuthMethod string

// Authentication methods.
const (
	// AuthTrust lets anyone connect as any user name, role or not. Only
	// safe on loopback; see TrustAllowed.
	AuthTrust AuthMethod = "trust"
	// AuthPassword asks for the password in clear (use it over TLS only)
	// and checks it against the role's SCRAM verifier.
	AuthPassword AuthMethod = "password"
	// AuthSCRAM is SASL SCRAM-SHA-256 (RFC 5802, RFC 7677) without channel
	// binding: the password never crosses the wire, the server proves it
	// knows the verifier too.
	AuthSCRAM AuthMethod = "scram-sha-256"
)

// ParseAuthMethod parses a method name as the --auth flag takes it.
func ParseAuthMethod(s string) (AuthMethod, error) {
	switch m := AuthMethod(s); m {
	case AuthTrust, AuthPassword, AuthSCRAM:
		return m, nil
	}
	return "", fmt.Errorf("unknown authentication method %q (want trust, password or scram-sha-256)", s)
}

// TrustAllowed reports whether trust authentication may be used on a
// listener at addr: only when every client must be local, that is a
// loopback TCP address (not 0.0.0.0 or ::, which accept remote clients) or
// a Unix socket.
func TrustAllowed(addr net.Addr) bool {
	switch a := addr.(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	case *net.UnixAddr:
		return true
	}
	return false
}

const (
	scramMechanism = "SCRAM-SHA-256"
	// maxAuthMessage is PostgreSQL's PG_MAX_AUTH_TOKEN_LENGTH.
	maxAuthMessage = 65535
)

// authenticate runs the configured authentication exchange for user; a nil
// return means the client proved its identity and may log in. Failures are
// FATAL 28P01 whatever the reason (unknown role, no password, wrong
// password), so a client learns nothing about which roles exist; the reason
// is logged, the password never.
func (c *conn) authenticate(user string) error {
	method := c.srv.opts.Auth
	if method == "" || method == AuthTrust {
		return nil
	}
	r, exists := c.srv.opts.Roles(user)
	reason := ""
	switch {
	case !exists:
		reason = "role does not exist"
	case r.Verifier == nil:
		reason = "role has no password"
	}
	var ok bool
	var err error
	switch method {
	case AuthPassword:
		ok, err = c.authPassword(user, r.Verifier)
	case AuthSCRAM:
		ok, err = c.authSCRAM(user, r.Verifier)
	default:
		return fatalError{pgerror.New(pgerror.InternalError, "unknown authentication method %q", method)}
	}
	if err != nil {
		return err
	}
	if !ok || reason != "" {
		if reason == "" {
			reason = "password does not match"
		}
		c.log.Warn("pgwire: password authentication failed", "user", user, "method", string(method), "reason", reason)
		return fatalError{pgerror.New(pgerror.InvalidPassword, "password authentication failed for user %q", user)}
	}
	if !r.CanLogin {
		c.log.Warn("pgwire: login refused", "user", user, "reason", "role is NOLOGIN")
		return fatalError{pgerror.New(pgerror.InvalidAuthorizationSpecification, "role %q is not permitted to log in", user)}
	}
	return nil
}

// mockVerifier stands in for the verifier of a user that does not exist or
// has no password, so that the exchange looks and costs the same as for a
// real one: its salt is the same at every attempt for the same name (as in
// PostgreSQL's scram_mock_salt), its keys match no password.
func (s *Server) mockVerifier(user string) *sql.SCRAMVerifier {
	keys := make([]byte, 2*sha256.Size)
	rand.Read(keys)
	return &sql.SCRAMVerifier{
		Iterations: scramIterations,
		Salt:       hmacSHA256(s.mockKey, []byte(user))[:16],
		StoredKey:  keys[:sha256.Size],
		ServerKey:  keys[sha256.Size:],
	}
}

// scramIterations matches the verifiers sql creates.
const scramIterations = 4096

// authPassword asks for the cleartext password and checks it against v
// (nil when the role has none: the exchange runs, and fails).
func (c *conn) authPassword(user string, v *sql.SCRAMVerifier) (bool, error) {
	c.send(&pgproto3.AuthenticationCleartextPassword{})
	var pm pgproto3.PasswordMessage
	if err := c.readAuthMessage(&pm); err != nil {
		return false, err
	}
	mock := v == nil
	if mock {
		v = c.srv.mockVerifier(user) // the same key derivation cost
	}
	// An empty password never matches, as in PostgreSQL.
	return v.CheckPassword(pm.Password) && pm.Password != "" && !mock, nil
}

// authSCRAM runs the SASL SCRAM-SHA-256 exchange as PostgreSQL does
// (https://www.postgresql.org/docs/current/sasl-authentication.html): the
// user name in the client-first message is ignored (the startup user
// counts), channel binding is not offered. With v nil a mock verifier keeps
// the exchange going so that it fails only at the end.
func (c *conn) authSCRAM(user string, v *sql.SCRAMVerifier) (bool, error) {
	mock := v == nil
	if mock {
		v = c.srv.mockVerifier(user)
	}
	c.send(&pgproto3.AuthenticationSASL{AuthMechanisms: []string{scramMechanism}})
	var init pgproto3.SASLInitialResponse
	if err := c.readAuthMessage(&init); err != nil {
		return false, err
	}
	if init.AuthMechanism != scramMechanism {
		return false, protocolViolation("client selected an invalid SASL authentication mechanism")
	}
	gs2, clientFirstBare, clientNonce, err := parseClientFirst(string(init.Data))
	if err != nil {
		return false, err
	}
	sn := make([]byte, 18)
	rand.Read(sn)
	nonce := clientNonce + base64.StdEncoding.EncodeToString(sn)
	serverFirst := "r=" + nonce + ",s=" + base64.StdEncoding.EncodeToString(v.Salt) + ",i=" + strconv.Itoa(v.Iterations)
	c.send(&pgproto3.AuthenticationSASLContinue{Data: []byte(serverFirst)})

	var resp pgproto3.SASLResponse
	if err := c.readAuthMessage(&resp); err != nil {
		return false, err
	}
	withoutProof, proof, err := parseClientFinal(string(resp.Data), gs2, nonce)
	if err != nil {
		return false, err
	}
	authMessage := []byte(clientFirstBare + "," + serverFirst + "," + withoutProof)
	clientSig := hmacSHA256(v.StoredKey, authMessage)
	clientKey := make([]byte, len(proof))
	subtle.XORBytes(clientKey, proof, clientSig)
	stored := sha256.Sum256(clientKey)
	if mock || subtle.ConstantTimeCompare(stored[:], v.StoredKey) != 1 {
		return false, nil
	}
	serverSig := hmacSHA256(v.ServerKey, authMessage)
	c.send(&pgproto3.AuthenticationSASLFinal{Data: []byte("v=" + base64.StdEncoding.EncodeToString(serverSig))})
	return true, nil
}

func hmacSHA256(key, msg []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(msg)
	return h.Sum(nil)
}

func saslError(format string, args ...any) error {
	return protocolViolation("malformed SCRAM message: "+format, args...)
}

// parseClientFirst splits a client-first-message
// (gs2-header client-first-message-bare, RFC 5802 section 7).
func parseClientFirst(msg string) (gs2, bare, nonce string, err error) {
	switch {
	case strings.HasPrefix(msg, "p="):
		return "", "", "", saslError("channel binding is not supported")
	case strings.HasPrefix(msg, "n,"), strings.HasPrefix(msg, "y,"):
	default:
		return "", "", "", saslError("unexpected channel-binding flag")
	}
	i := strings.IndexByte(msg[2:], ',')
	if i < 0 {
		return "", "", "", saslError("unexpected end of client-first message")
	}
	if i > 0 {
		return "", "", "", saslError("authorization identities are not supported")
	}
	gs2, bare = msg[:3], msg[3:]
	attrs := strings.Split(bare, ",")
	if strings.HasPrefix(bare, "m=") {
		return "", "", "", saslError("mandatory extensions are not supported")
	}
	if len(attrs) < 2 || !strings.HasPrefix(attrs[0], "n=") || !strings.HasPrefix(attrs[1], "r=") {
		return "", "", "", saslError("expected n= and r= attributes")
	}
	nonce = attrs[1][2:]
	if nonce == "" {
		return "", "", "", saslError("empty client nonce")
	}
	for _, ch := range []byte(nonce) {
		if ch < 0x21 || ch > 0x7e {
			return "", "", "", saslError("invalid client nonce")
		}
	}
	return gs2, bare, nonce, nil
}

// parseClientFinal checks a client-final-message against the exchange so
// far and returns it without its proof, and the proof.
func parseClientFinal(msg, gs2, nonce string) (withoutProof string, proof []byte, err error) {
	i := strings.LastIndex(msg, ",p=")
	if i < 0 {
		return "", nil, saslError("client-final message without proof")
	}
	withoutProof = msg[:i]
	proof, err = base64.StdEncoding.DecodeString(msg[i+3:])
	if err != nil || len(proof) != sha256.Size {
		return "", nil, saslError("invalid client proof")
	}
	attrs := strings.Split(withoutProof, ",")
	if len(attrs) < 2 || attrs[0] != "c="+base64.StdEncoding.EncodeToString([]byte(gs2)) {
		return "", nil, saslError("unexpected channel-binding data")
	}
	if attrs[1] != "r="+nonce {
		return "", nil, saslError("nonce does not match")
	}
	return withoutProof, proof, nil
}

// readAuthMessage flushes the pending authentication request and reads the
// client's 'p' message into msg (PasswordMessage, SASLInitialResponse or
// SASLResponse: the type byte is shared, the expected content decides).
func (c *conn) readAuthMessage(msg pgproto3.FrontendMessage) error {
	c.flush()
	if c.werr != nil {
		return c.werr
	}
	var hdr [5]byte
	if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
		return err
	}
	if hdr[0] != 'p' {
		return protocolViolation("expected password response, got message type %d", hdr[0])
	}
	n := int64(int32(binary.BigEndian.Uint32(hdr[1:])))
	if n < 4 || n-4 > maxAuthMessage {
		return protocolViolation("invalid message length %d", n)
	}
	body, err := readBody(c.br, int(n)-4)
	if err != nil {
		return err
	}
	if err := msg.Decode(body); err != nil {
		return protocolViolation("invalid password packet: %v", err)
	}
	return nil
}

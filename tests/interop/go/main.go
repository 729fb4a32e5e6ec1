// Command veritee-interop checks veritee's checkpoints and proofs with Go's stock
// golang.org/x/mod/sumdb/note and sumdb/tlog packages, unchanged.
//
// It reads one JSON request on stdin and writes one JSON report on stdout. It judges nothing
// itself: for every checkpoint and proof it reports what Go's packages said (an error or not)
// and what Go computes independently from the leaves (tree hashes, proofs, signed notes), and the
// pytest side (tests/interop/test_go_interop.py) compares that with veritee's own bytes.
//
// Build offline in GOPATH mode against Debian's golang-golang-x-mod-dev:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o veritee-interop main.go
package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// JSON []byte fields are standard padded base64, as encoding/json writes them.
type request struct {
	Vkey        string            `json:"vkey"`
	Skey        string            `json:"skey"`
	Leaves      [][]byte          `json:"leaves"`
	Checkpoints []string          `json:"checkpoints"`
	Inclusion   []inclusionCase   `json:"inclusion"`
	Consistency []consistencyCase `json:"consistency"`
}

type inclusionCase struct {
	Index int64    `json:"index"`
	Size  int64    `json:"size"`
	Root  []byte   `json:"root"`
	Proof [][]byte `json:"proof"`
}

type consistencyCase struct {
	Old     int64    `json:"old"`
	New     int64    `json:"new"`
	OldRoot []byte   `json:"old_root"`
	NewRoot []byte   `json:"new_root"`
	Proof   [][]byte `json:"proof"`
}

type checkpointResult struct {
	Error    string `json:"error"`
	Origin   string `json:"origin"`
	Size     int64  `json:"size"`
	Root     []byte `json:"root"`
	GoRoot   []byte `json:"go_root"`
	GoSigned string `json:"go_signed"`
}

type proofResult struct {
	Error   string   `json:"error"`
	GoProof [][]byte `json:"go_proof"`
}

type report struct {
	KeyName     string             `json:"key_name"`
	KeyHash     uint32             `json:"key_hash"`
	Checkpoints []checkpointResult `json:"checkpoints"`
	Inclusion   []proofResult      `json:"inclusion"`
	Consistency []proofResult      `json:"consistency"`
}

func main() {
	var req request
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fail("reading the request: %v", err)
	}
	verifier, err := note.NewVerifier(req.Vkey)
	if err != nil {
		fail("note.NewVerifier: %v", err)
	}
	signer, err := note.NewSigner(req.Skey)
	if err != nil {
		fail("note.NewSigner: %v", err)
	}
	stored, err := storeLeaves(req.Leaves)
	if err != nil {
		fail("tlog.StoredHashes: %v", err)
	}
	reader := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, index := range indexes {
			if index < 0 || index >= int64(len(stored)) {
				return nil, fmt.Errorf("no stored hash %d", index)
			}
			out[i] = stored[index]
		}
		return out, nil
	})

	out := report{KeyName: verifier.Name(), KeyHash: verifier.KeyHash()}
	for _, msg := range req.Checkpoints {
		out.Checkpoints = append(out.Checkpoints, openCheckpoint(msg, verifier, signer, reader, int64(len(req.Leaves))))
	}
	for _, c := range req.Inclusion {
		out.Inclusion = append(out.Inclusion, checkInclusion(c, req.Leaves, reader))
	}
	for _, c := range req.Consistency {
		out.Consistency = append(out.Consistency, checkConsistency(c, reader))
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail("writing the report: %v", err)
	}
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "veritee-interop: "+format+"\n", args...)
	os.Exit(2)
}

// storeLeaves lays the leaves out in Go's own stored-hash order, computing every interior hash.
func storeLeaves(leaves [][]byte) ([]tlog.Hash, error) {
	var stored []tlog.Hash
	reader := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, index := range indexes {
			out[i] = stored[index]
		}
		return out, nil
	})
	for n, leaf := range leaves {
		hashes, err := tlog.StoredHashes(int64(n), leaf, reader)
		if err != nil {
			return nil, err
		}
		stored = append(stored, hashes...)
	}
	return stored, nil
}

func openCheckpoint(msg string, verifier note.Verifier, signer note.Signer, reader tlog.HashReader, leaves int64) checkpointResult {
	n, err := note.Open([]byte(msg), note.VerifierList(verifier))
	if err != nil {
		return checkpointResult{Error: fmt.Sprintf("note.Open: %v", err)}
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 {
		return checkpointResult{Error: "checkpoint text has fewer than three lines"}
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || strconv.FormatInt(size, 10) != lines[1] {
		return checkpointResult{Error: "checkpoint size is not a canonical decimal"}
	}
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return checkpointResult{Error: "checkpoint root is not a base64 SHA-256 hash"}
	}
	result := checkpointResult{Origin: lines[0], Size: size, Root: root}
	// Go's TreeHash(0) is 32 zero bytes, not SHA-256(""), so size 0 is left to the caller.
	if size > 0 && size <= leaves {
		goRoot, err := tlog.TreeHash(size, reader)
		if err != nil {
			result.Error = fmt.Sprintf("tlog.TreeHash: %v", err)
			return result
		}
		result.GoRoot = goRoot[:]
	}
	signed, err := note.Sign(&note.Note{Text: n.Text}, signer)
	if err != nil {
		result.Error = fmt.Sprintf("note.Sign: %v", err)
		return result
	}
	result.GoSigned = string(signed)
	return result
}

func checkInclusion(c inclusionCase, leaves [][]byte, reader tlog.HashReader) proofResult {
	var result proofResult
	if goProof, err := tlog.ProveRecord(c.Size, c.Index, reader); err == nil {
		result.GoProof = hashBytes(goProof)
	}
	proof, root, err := toHashes(c.Proof, c.Root)
	if err == nil && (c.Index < 0 || c.Index >= int64(len(leaves))) {
		err = errors.New("index outside the leaves")
	}
	if err == nil {
		err = tlog.CheckRecord(tlog.RecordProof(proof), c.Size, root, c.Index, tlog.RecordHash(leaves[c.Index]))
	}
	if err != nil {
		result.Error = fmt.Sprintf("tlog.CheckRecord: %v", err)
	}
	return result
}

func checkConsistency(c consistencyCase, reader tlog.HashReader) proofResult {
	var result proofResult
	if goProof, err := tlog.ProveTree(c.New, c.Old, reader); err == nil {
		result.GoProof = hashBytes(goProof)
	}
	proof, newRoot, err := toHashes(c.Proof, c.NewRoot)
	var oldRoot tlog.Hash
	if err == nil {
		_, oldRoot, err = toHashes(nil, c.OldRoot)
	}
	if err == nil {
		err = tlog.CheckTree(tlog.TreeProof(proof), c.New, newRoot, c.Old, oldRoot)
	}
	if err != nil {
		result.Error = fmt.Sprintf("tlog.CheckTree: %v", err)
	}
	return result
}

func toHashes(proof [][]byte, root []byte) ([]tlog.Hash, tlog.Hash, error) {
	var rootHash tlog.Hash
	if len(root) != tlog.HashSize {
		return nil, rootHash, errors.New("root is not 32 bytes")
	}
	copy(rootHash[:], root)
	hashes := make([]tlog.Hash, len(proof))
	for i, h := range proof {
		if len(h) != tlog.HashSize {
			return nil, rootHash, errors.New("proof hash is not 32 bytes")
		}
		copy(hashes[i][:], h)
	}
	return hashes, rootHash, nil
}

func hashBytes(hashes []tlog.Hash) [][]byte {
	out := make([][]byte, len(hashes))
	for i := range hashes {
		out[i] = hashes[i][:]
	}
	return out
}

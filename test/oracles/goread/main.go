// Command goread reads documents with Go's standard library, the way container runtimes do, and prints
// what Go made of them as JSON, for differential tests of imggate's own readers:
//
//	goread tar < layer.tar       one line per archive/tar Header (names as base64 bytes), then the error
//	goread json-manifest|json-index|json-config < doc.json
//
// The structs below declare only the fields and JSON names the OCI image spec gives them; what
// matters is encoding/json's own matching (case-insensitive keys, the last of several wins).
package main

import (
	"archive/tar"
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
)

type tarHeader struct {
	Name     string            `json:"name"`
	Linkname string            `json:"linkname"`
	Typeflag int               `json:"typeflag"`
	Mode     int64             `json:"mode"`
	Uid      int               `json:"uid"`
	Gid      int               `json:"gid"`
	Size     int64             `json:"size"`
	Uname    string            `json:"uname"`
	Gname    string            `json:"gname"`
	Xattrs   map[string]string `json:"xattrs"`
	Content  string            `json:"content"`
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func readTar() {
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	tr := tar.NewReader(bufio.NewReader(os.Stdin))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			enc.Encode(map[string]string{"end": "eof"})
			return
		}
		if err != nil {
			enc.Encode(map[string]string{"end": "error", "error": err.Error()})
			return
		}
		x := map[string]string{}
		keys := []string{}
		for k := range h.PAXRecords {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if len(k) > len("SCHILY.xattr.") && k[:len("SCHILY.xattr.")] == "SCHILY.xattr." && h.PAXRecords[k] != "" {
				x[b64(k[len("SCHILY.xattr."):])] = b64(h.PAXRecords[k])
			}
		}
		data, err := io.ReadAll(io.LimitReader(tr, 1<<20))
		if err != nil {
			enc.Encode(map[string]string{"end": "error", "error": err.Error()})
			return
		}
		enc.Encode(tarHeader{Name: b64(h.Name), Linkname: b64(h.Linkname), Typeflag: int(h.Typeflag), Mode: h.Mode, Uid: h.Uid, Gid: h.Gid,
			Size: h.Size, Uname: b64(h.Uname), Gname: b64(h.Gname), Xattrs: x, Content: b64(string(data))})
	}
}

type platform struct {
	Architecture string   `json:"architecture"`
	OS           string   `json:"os"`
	OSVersion    string   `json:"os.version,omitempty"`
	OSFeatures   []string `json:"os.features,omitempty"`
	Variant      string   `json:"variant,omitempty"`
}

type descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	URLs         []string          `json:"urls,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	Platform     *platform         `json:"platform,omitempty"`
	ArtifactType string            `json:"artifactType,omitempty"`
}

type manifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType,omitempty"`
	ArtifactType  string            `json:"artifactType,omitempty"`
	Config        descriptor        `json:"config"`
	Layers        []descriptor      `json:"layers"`
	Subject       *descriptor       `json:"subject,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

type index struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType,omitempty"`
	ArtifactType  string            `json:"artifactType,omitempty"`
	Manifests     []descriptor      `json:"manifests"`
	Subject       *descriptor       `json:"subject,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

type history struct {
	Created    string `json:"created,omitempty"`
	CreatedBy  string `json:"created_by,omitempty"`
	Author     string `json:"author,omitempty"`
	Comment    string `json:"comment,omitempty"`
	EmptyLayer bool   `json:"empty_layer,omitempty"`
}

type containerConfig struct {
	User         string              `json:"User,omitempty"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Env          []string            `json:"Env,omitempty"`
	Entrypoint   []string            `json:"Entrypoint,omitempty"`
	Cmd          []string            `json:"Cmd,omitempty"`
	Volumes      map[string]struct{} `json:"Volumes,omitempty"`
	WorkingDir   string              `json:"WorkingDir,omitempty"`
	Labels       map[string]string   `json:"Labels,omitempty"`
	StopSignal   string              `json:"StopSignal,omitempty"`
}

type rootfs struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

type imageConfig struct {
	Created      string          `json:"created,omitempty"`
	Architecture string          `json:"architecture"`
	OS           string          `json:"os"`
	Variant      string          `json:"variant,omitempty"`
	Config       containerConfig `json:"config,omitempty"`
	RootFS       rootfs          `json:"rootfs"`
	History      []history       `json:"history,omitempty"`
}

func readJSON(v interface{}) {
	data, err := io.ReadAll(os.Stdin)
	if err == nil {
		err = json.Unmarshal(data, v)
	}
	enc := json.NewEncoder(os.Stdout)
	if err != nil {
		enc.Encode(map[string]string{"error": err.Error()})
		return
	}
	enc.Encode(map[string]interface{}{"value": v})
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: goread tar|json-manifest|json-index|json-config < input")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "tar":
		readTar()
	case "json-manifest":
		readJSON(&manifest{})
	case "json-index":
		readJSON(&index{})
	case "json-config":
		readJSON(&imageConfig{})
	default:
		fmt.Fprintln(os.Stderr, "unknown mode")
		os.Exit(2)
	}
}

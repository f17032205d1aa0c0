package sqllogictest

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// File is a script to run: Path on disk, Name as it is reported.
type File struct {
	Path string
	Name string
}

// IsScript reports whether a file name is a runnable script. Included
// fragments (.slt.part) are not run on their own.
func IsScript(name string) bool {
	return strings.HasSuffix(name, ".slt") || strings.HasSuffix(name, ".test")
}

// CollectFiles expands arguments into scripts. A file argument is taken as
// is. A directory is walked for *.slt and *.test files in sorted order,
// and each is named by the directory's base name joined with its path
// inside it, so that running ../shared/slt/sqlite names its files
// "sqlite/select1.test", as postgresql15-baseline.txt does.
func CollectFiles(args []string) ([]File, error) {
	var out []File
	for _, arg := range args {
		st, err := os.Stat(arg)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, File{Path: arg, Name: filepath.ToSlash(arg)})
			continue
		}
		base := filepath.Base(filepath.Clean(arg))
		var files []File
		err = filepath.WalkDir(arg, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !IsScript(d.Name()) {
				return nil
			}
			rel, err := filepath.Rel(arg, p)
			if err != nil {
				return err
			}
			files = append(files, File{Path: p, Name: filepath.ToSlash(filepath.Join(base, rel))})
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
		out = append(out, files...)
	}
	return out, nil
}

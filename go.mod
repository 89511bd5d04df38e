module github.com/petrel-transport/petrel

go 1.26

module libanthem.example/anthem

go 1.19

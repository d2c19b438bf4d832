module weightslock.local/bench/goref

go 1.19

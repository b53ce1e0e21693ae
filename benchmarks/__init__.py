"""Speed, memory and accuracy measurements; never run as tests."""

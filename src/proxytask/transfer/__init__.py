"""Transfer to a labeled downstream task: fine-tuning, linear probe, k-NN, and the eigenfaces baseline."""
